//! Other world: a valid component for a world that is not the skill world
//! (it exports `greet`, not `run`). The host must refuse it at load.

wit_bindgen::generate!({
    path: "wit",
    world: "greeter",
});

struct Greeter;

impl Guest for Greeter {
    fn greet(name: String) -> String {
        format!("hello {name}")
    }
}

export!(Greeter);
