#!/usr/bin/env python3
"""Tests of the mutation runner's own judgement: a broken catalogue is refused with the reason, and
certify outcomes are classified as killed (for the right reason or not), survived or error."""
import shutil
import tempfile
import unittest
from pathlib import Path

import mutants

GOOD = {"id": "c-example", "node": "c", "clause": "ROJ-VOTE-4", "description": "d", "scenarios": ["rejection"]}


class CatalogueChecks(unittest.TestCase):
    def setUp(self):
        self.dir = Path(tempfile.mkdtemp())
        self.saved = mutants.PATCHES
        mutants.PATCHES = self.dir
        real = next(self.saved.glob("c-*.patch"))
        shutil.copy(real, self.dir / "c-example.patch")

    def tearDown(self):
        mutants.PATCHES = self.saved
        shutil.rmtree(self.dir)

    def problems(self, **changes):
        return mutants.catalogue_problems([{**GOOD, **changes}])

    def test_a_well_formed_entry_passes(self):
        self.assertEqual(self.problems(), [])

    def test_unknown_clause_scenario_and_node_are_refused(self):
        self.assertTrue(any("ROJ-VOTE-99" in p for p in self.problems(clause="ROJ-VOTE-99")))
        self.assertTrue(any("no scenario named" in p for p in self.problems(scenarios=["nope"])))
        self.assertTrue(any("node must be" in p for p in self.problems(node="java", id="java-x")))

    def test_missing_field_duplicate_and_orphan_patch_are_refused(self):
        self.assertTrue(any("`scenarios` missing" in p for p in self.problems(scenarios=[])))
        self.assertTrue(any("duplicate id" in p for p in mutants.catalogue_problems([GOOD, GOOD])))
        (self.dir / "c-orphan.patch").write_text("")
        self.assertTrue(any("c-orphan.patch: not in catalogue" in p for p in self.problems()))

    def test_patch_outside_its_node_or_not_applying_is_refused(self):
        shutil.copy(self.dir / "c-example.patch", self.dir / "go-example.patch")
        self.assertTrue(any("outside reference-impls/go/" in p for p in mutants.catalogue_problems([{**GOOD, "node": "go", "id": "go-example"}])))
        (self.dir / "go-example.patch").unlink()
        patch = self.dir / "c-example.patch"
        patch.write_text(patch.read_text().replace("\n-", "\n-XX_NOT_IN_THE_TREE", 1))
        self.assertTrue(any("does not apply" in p for p in self.problems()))


class Classification(unittest.TestCase):
    def judged(self, precheck=(), failing=()):
        return {"precheck_failures": list(precheck), "failing": list(failing)}

    def test_failing_clauses_come_from_cases_findings_and_prechecks(self):
        j = self.judged(["publishes _roj._udp.local          ROJ-DISC-1   FAIL  missing caps"],
                        [{"id": "rejection@vendor", "clause": "ROJ-VOTE-4", "finding_clauses": ["ROJ-SAFE-1"]}])
        self.assertEqual(mutants.failing_clauses(j), ["ROJ-DISC-1", "ROJ-SAFE-1", "ROJ-VOTE-4"])
        self.assertEqual(mutants.failing_scenarios(j), ["rejection"])

    def test_reason_match(self):
        m = {**GOOD, "related": ["ROJ-SAFE-1"]}
        self.assertEqual(mutants.reason_match(m, ["ROJ-SAFE-1"]), "exact")
        self.assertEqual(mutants.reason_match(m, ["ROJ-VOTE-9"]), "family")
        self.assertEqual(mutants.reason_match(m, ["KOR-VV-1"]), "other")
        self.assertEqual(mutants.reason_match(m, []), "other")

    def test_errors_are_never_counted_as_killed(self):
        results = {"baseline": {}, "mutants": {
            "a": {"outcome": "killed"}, "b": {"outcome": "survived"}, "c": {"outcome": "error"}}}
        s = mutants.summary(results)
        self.assertEqual((s["killed"], s["survived"], s["errors"], s["kill_ratio"]), (1, 1, 1, 0.5))


if __name__ == "__main__":
    unittest.main()
