use clap::Parser;

fn main() {
    let cli = cairn::cli::Cli::parse();
    let code = cairn::cli::run(cli);
    std::process::exit(code);
}
