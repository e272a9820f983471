//! Embeds every template under `templates/` into the binary, so `blueprint` needs no files at run
//! time and a release build renders exactly what its tests checked.

fn main() {
    minijinja_embed::embed_templates!("templates");
}
