fn main() {
    std::process::exit(scalewize::run());
}
