fn main() {
    eprintln!("sockweave: the command-line tool arrives with the native backend; not yet.");
    std::process::exit(2);
}
