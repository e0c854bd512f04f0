//! Rust reference node for EK-ROJ and EK-KOR (see docs/spec/).
fn main() {
    eprintln!("ekc-node-rust: not implemented yet");
    std::process::exit(2);
}
