//! `ekconform check FILE --format json` without the CLI crate: the same library calls, for
//! measuring the checkers alone. Exit codes as the CLI: 0 pass, 1 violations, 2 not judgeable.
fn main() -> std::process::ExitCode {
    let path = std::env::args().nth(1).expect("usage: check_file FILE.pcap");
    match ekc_checkers::check_capture(std::path::Path::new(&path), &ekc_checkers::CheckOptions::default()) {
        Ok(r) => {
            print!("{}", ekc_checkers::render_json(&r));
            std::process::ExitCode::from(if r.verdict == ekc_checkers::Verdict::Pass { 0 } else { 1 })
        }
        Err(e) => {
            eprintln!("check_file: {e}");
            std::process::ExitCode::from(2)
        }
    }
}
