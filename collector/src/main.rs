fn main() {
    eprintln!("xray-collector: under construction");
    std::process::exit(2);
}
