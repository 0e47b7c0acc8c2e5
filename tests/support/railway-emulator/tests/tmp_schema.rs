#[test]
fn loads() {
    let t = std::time::Instant::now();
    let s = railway_emulator::schema::load_schema(&railway_emulator::schema::schema_path(None)).unwrap();
    println!("{} types in {:?}", s.types.len(), t.elapsed());
}
