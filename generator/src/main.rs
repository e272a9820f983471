fn main() {
    eprintln!("blueprint: under construction");
    std::process::exit(2);
}
