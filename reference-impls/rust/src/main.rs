//! Entry point of the Rust reference node: configuration from the environment (CTL-ENV-*), then the
//! tokio shell around the sans-I/O core. Bad configuration exits non-zero with one line on stderr.
use ekc_node_rust::shell::{self, config::Config};

fn main() {
    let cfg = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ekc-node-rust: configuration error: {e}");
            std::process::exit(2);
        }
    };
    shell::log::init(cfg.log, &cfg.node_id);
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ekc-node-rust: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(shell::run(cfg)) {
        eprintln!("ekc-node-rust: {e}");
        std::process::exit(1);
    }
}
