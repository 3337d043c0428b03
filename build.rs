// The migrations are embedded by `sqlx::migrate!`; without this, adding or changing a
// migration file would not rebuild the crate and the binary would run the old schema.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
