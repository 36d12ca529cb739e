fn main() -> std::process::ExitCode {
    campaign::main()
}
