fn main() {
    eprintln!("processing: not implemented yet");
    std::process::exit(2);
}
