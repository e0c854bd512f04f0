//! Replays datagrams through every parser and prints each verdict: the oracle, the Rust node's
//! codecs and the C node's parsers, for EK-ROJ, EK-KOR and control requests. Takes raw files
//! (libFuzzer crashes, corpus entries) and Go fuzz corpus files (`go test fuzz v1` with one
//! `[]byte("...")` value). Exits 1 if the parsers disagree on any input, 2 on a usage or I/O error.
//!
//! With `EKC_GO_REPLAY` naming the go-replay binary (fuzz/go-replay, built by the Justfile), the Go
//! node's EK-ROJ and EK-KOR verdicts join each group as `go-node`.
//!
//! `--quiet` prints only the inputs the parsers disagree on.
//!
//! Usage: fuzz-replay [--quiet] [--protocol roj|kor|ctl|all] FILE...

use ekc_fuzz::Verdict;
use ekc_oracle::roj::RojOracle;
use std::process::ExitCode;

/// Decodes the one `[]byte("...")` value of a Go fuzz corpus file (strconv.Quote escapes).
fn go_corpus_bytes(text: &str) -> Result<Vec<u8>, String> {
    let start = text.find("[]byte(\"").ok_or("no []byte(\"...\") value")? + 8;
    let body = text[start..].trim_end().strip_suffix("\")").ok_or("unterminated []byte value")?;
    let mut out = Vec::new();
    let mut chars = body.chars();
    while let Some(ch) = chars.next() {
        if ch != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let esc = chars.next().ok_or("dangling backslash")?;
        let mut hex_digits = |n: usize| -> Result<u32, String> {
            let s: String = chars.by_ref().take(n).collect();
            u32::from_str_radix(&s, 16).map_err(|e| format!("bad escape {s:?}: {e}"))
        };
        match esc {
            'a' => out.push(7),
            'b' => out.push(8),
            'f' => out.push(12),
            'n' => out.push(b'\n'),
            'r' => out.push(b'\r'),
            't' => out.push(b'\t'),
            'v' => out.push(11),
            '\\' => out.push(b'\\'),
            '"' => out.push(b'"'),
            '\'' => out.push(b'\''),
            'x' => out.push(hex_digits(2)? as u8),
            'u' | 'U' => {
                let cp = hex_digits(if esc == 'u' { 4 } else { 8 })?;
                let c = char::from_u32(cp).ok_or(format!("bad code point {cp:#x}"))?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            other => return Err(format!("unsupported escape \\{other}")),
        }
    }
    Ok(out)
}

/// The Go node's `(roj, kor)` verdicts per file, from one run of go-replay over all files.
fn go_verdicts(bin: &str, paths: &[String]) -> Result<Vec<(Verdict, Verdict)>, String> {
    let out = std::process::Command::new(bin).args(paths).output().map_err(|e| format!("{bin}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{bin} failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let parse = |line: &str, want: &str| -> Result<Verdict, String> {
        let mut parts = line.splitn(3, '\t');
        let (proto, verdict, rest) = (parts.next(), parts.next(), parts.next().unwrap_or(""));
        match (proto, verdict) {
            (Some(p), Some("ACCEPT")) if p == want => Ok(Verdict::accept(rest.to_owned())),
            (Some(p), Some("REJECT")) if p == want => Ok(Verdict::reject(rest.to_owned())),
            _ => Err(format!("unexpected go-replay line {line:?}")),
        }
    };
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() != 2 * paths.len() {
        return Err(format!("go-replay printed {} lines for {} files", lines.len(), paths.len()));
    }
    lines.chunks(2).map(|pair| Ok((parse(pair[0], "roj")?, parse(pair[1], "kor")?))).collect()
}

fn print_group(path: &str, data: &[u8], quiet: bool, name: &str, verdicts: &[(&str, Verdict)]) -> bool {
    let agree = verdicts.iter().all(|(_, v)| v.agrees(&verdicts[0].1));
    if quiet && agree {
        return true;
    }
    if quiet {
        println!("{path}: {} bytes: {}", data.len(), hex::encode(data));
    }
    println!("  {name}: {}", if agree { "agree" } else { "DISAGREE" });
    for (parser, v) in verdicts {
        println!("    {parser:>10}: {v}");
    }
    agree
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut protocol = "all".to_owned();
    let quiet = args.first().map(String::as_str) == Some("--quiet");
    if quiet {
        args.remove(0);
    }
    if args.first().map(String::as_str) == Some("--protocol") && args.len() >= 2 {
        protocol = args[1].clone();
        args.drain(..2);
    }
    if args.is_empty() || !matches!(protocol.as_str(), "roj" | "kor" | "ctl" | "all") {
        eprintln!("usage: fuzz-replay [--quiet] [--protocol roj|kor|ctl|all] FILE...");
        return ExitCode::from(2);
    }
    let oracle = RojOracle::new();
    let go = match std::env::var("EKC_GO_REPLAY") {
        Ok(bin) if !bin.is_empty() => match go_verdicts(&bin, &args) {
            Ok(v) => Some(v),
            Err(e) => {
                eprintln!("fuzz-replay: {e}");
                return ExitCode::from(2);
            }
        },
        _ => None,
    };
    let mut all_agree = true;
    for (index, path) in args.iter().enumerate() {
        let raw = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("fuzz-replay: {path}: {e}");
                return ExitCode::from(2);
            }
        };
        let data = if raw.starts_with(b"go test fuzz v1\n") {
            match go_corpus_bytes(&String::from_utf8_lossy(&raw)) {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("fuzz-replay: {path}: Go corpus file: {e}");
                    return ExitCode::from(2);
                }
            }
        } else {
            raw
        };
        if !quiet {
            println!("{path}: {} bytes: {}", data.len(), hex::encode(&data[..data.len().min(64)]));
        }
        if matches!(protocol.as_str(), "roj" | "all") {
            let mut group = ekc_fuzz::roj::all(&oracle, &data).to_vec();
            if let Some(go) = &go {
                group.push(("go-node", go[index].0.clone()));
            }
            all_agree &= print_group(path, &data, quiet, "EK-ROJ", &group);
        }
        if matches!(protocol.as_str(), "kor" | "all") {
            let mut group = ekc_fuzz::kor::all(&data).to_vec();
            if let Some(go) = &go {
                group.push(("go-node", go[index].1.clone()));
            }
            all_agree &= print_group(path, &data, quiet, "EK-KOR", &group);
        }
        if matches!(protocol.as_str(), "ctl" | "all") {
            all_agree &= print_group(path, &data, quiet, "control", &ekc_fuzz::ctl::all(&oracle, &data));
        }
    }
    if all_agree { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

#[cfg(test)]
mod tests {
    use super::go_corpus_bytes;

    #[test]
    fn go_corpus_file_decodes() {
        let text = "go test fuzz v1\n[]byte(\"a\\x00\\\"\\n\\u00e9\")\n";
        assert_eq!(go_corpus_bytes(text).unwrap(), b"a\x00\"\n\xc3\xa9");
    }
}
