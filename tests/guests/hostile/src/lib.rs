//! Hostile: a skill that misbehaves on purpose, for the host's sandboxing
//! tests (`tests/hostile.rs`). The act argument `attack` (or, without it,
//! the skill parameter `attack`) says how:
//!
//! | attack | does | the host stops it with |
//! |---|---|---|
//! | `loop` | spins forever, no host calls | `time` (CPU) |
//! | `alloc` | allocates 1 MiB blocks forever | `memory` |
//! | `recurse` | recurses forever (frames on the wasm stack) | `stack` |
//! | `recurse_shadow` | recurses forever (frames in linear memory) | out-of-bounds trap |
//! | `panic` | panics | the panic message |
//! | `unreachable` | executes `unreachable` | the trap |
//! | `exit` | calls `std::process::exit(3)` | "exit(1)" (WASI 0.2 exit has no code) |
//! | `sleep` | sleeps an hour (no CPU used) | `wall_time` |
//! | `flood_events` | sends events forever | `events_per_run` |
//! | `flood_replies` | replies forever | `replies_per_run` |
//! | `flood_log` | logs 1 KiB lines forever | `log_bytes` |
//! | `flood_stdout` | prints 1 KiB lines forever | `log_bytes` |
//! | `huge_state` | sets a state value of 16 MiB | `state_value_bytes` |
//! | `huge_reply` | replies 4 MiB | `reply_bytes` |
//! | `huge_argument` | sends an event with a 1 MiB argument | `argument_bytes` |
//! | `many_arguments` | sends an event with 10 000 arguments | `arguments_per_event` |
//! | `many_fields` | asks `act::fields` for 5 000 names | bad host-call argument |
//! | `huge_name` | reads a state field with a 1 MiB name | bad host-call argument |
//! | `huge_idn` | sends an event whose idn is 1 MiB | bad host-call argument |
//! | `ambient` | tries files, environment, arguments, stdin, TCP (to the act argument `addr`), UDP and DNS, and replies what it reached | (nothing: it succeeds) |
//! | `print` | prints `stdout <marker>` and `stderr <marker>` (the act argument `marker`) and replies `printed` | (nothing) |
//!
//! Every attack that the host stops ends with `Err("not stopped")` if it
//! ever returns, so a missing limit shows as the wrong reason.
use std::hint::black_box;

use skill_sdk::prelude::*;

skill!(run);

fn run(act: Act) -> Result<()> {
    let attack = match act.arg("attack") {
        Some(a) => a.to_owned(),
        None => parameter("attack").unwrap_or_default(),
    };
    match attack.as_str() {
        "loop" => {
            let mut x = 1u64;
            loop {
                x = black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
            }
        }
        "alloc" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                let mut block = vec![0u8; 1 << 20];
                // Touch every page so the memory is really used.
                for i in (0..block.len()).step_by(4096) {
                    block[i] = 1;
                }
                hoard.push(black_box(block));
            }
        }
        "recurse" => {
            black_box(recurse(black_box(0)));
        }
        "recurse_shadow" => {
            black_box(recurse_shadow(black_box(0)));
        }
        "panic" => panic!("hostile skill panics on purpose"),
        "unreachable" => unreachable_instruction(),
        "exit" => std::process::exit(3),
        "sleep" => std::thread::sleep(std::time::Duration::from_secs(3600)),
        "flood_events" => {
            for i in 0u64.. {
                Event::new("flood").arg("i", &i.to_string()).send()?;
            }
        }
        "flood_replies" => loop {
            reply("spam")?;
        },
        "flood_log" => {
            let line = "x".repeat(1024);
            loop {
                log::info(&line);
            }
        }
        "flood_stdout" => {
            let line = "x".repeat(1024);
            loop {
                println!("{line}");
            }
        }
        "huge_state" => state::set("blob", &"x".repeat(16 << 20))?,
        "huge_reply" => reply(&"x".repeat(4 << 20))?,
        "huge_argument" => {
            Event::new("big").arg("blob", &"x".repeat(1 << 20)).send()?;
        }
        "many_arguments" => {
            let mut event = Event::new("wide");
            for i in 0..10_000 {
                event = event.arg(&format!("a{i}"), "v");
            }
            event.send()?;
        }
        "many_fields" => {
            let names: Vec<String> = (0..5_000).map(|i| format!("f{i}")).collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            black_box(act::fields(&names));
        }
        "huge_name" => {
            black_box(state::get(&"f".repeat(1 << 20)))?;
        }
        "huge_idn" => {
            Event::new(&"e".repeat(1 << 20)).send()?;
        }
        "ambient" => return reply(&ambient(&act)),
        "print" => {
            let marker = act.arg("marker").unwrap_or_default();
            println!("stdout {marker}");
            eprintln!("stderr {marker}");
            return reply("printed");
        }
        other => return Err(Error::new(format_args!("unknown attack `{other}`"))),
    }
    Err(Error::new("not stopped"))
}

/// Recurses until the wasm call stack runs out: every frame lives on the
/// wasm stack (no address-taken locals), and the work after the call keeps
/// it from becoming a loop.
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    if depth == u64::MAX {
        return 0;
    }
    recurse(depth + 1).wrapping_mul(3).wrapping_add(depth)
}

/// Recurses with a frame in linear memory (`black_box` takes its address),
/// so Rust's shadow stack runs off the bottom of memory first.
#[allow(unconditional_recursion)]
#[inline(never)]
fn recurse_shadow(depth: u64) -> u64 {
    let frame = black_box([depth; 16]);
    black_box(recurse_shadow(frame[3] + 1)) + frame[7]
}

#[cfg(target_arch = "wasm32")]
fn unreachable_instruction() -> ! {
    core::arch::wasm32::unreachable()
}

#[cfg(not(target_arch = "wasm32"))]
fn unreachable_instruction() -> ! {
    panic!("unreachable instruction")
}

/// What the sandbox lets a skill reach, as `name=ok:...` or `name=err:...`
/// items separated by `;` (`env`, `args` and `stdin` give counts).
fn ambient(act: &Act) -> String {
    use std::io::Read;
    fn item<T, E: std::fmt::Display>(name: &str, r: std::result::Result<T, E>) -> String {
        match r {
            Ok(_) => format!("{name}=ok"),
            Err(e) => format!("{name}=err:{e}"),
        }
    }
    let addr = act.arg("addr").unwrap_or("127.0.0.1:9");
    let mut stdin = String::new();
    let stdin_read = std::io::stdin().read_to_string(&mut stdin);
    [
        item("read_dir", std::fs::read_dir("/")),
        item("read_file", std::fs::read("/etc/passwd")),
        item("write_file", std::fs::write("/tmp/hostile", "x")),
        item("cwd_file", std::fs::read("Cargo.toml")),
        format!("env={}", std::env::vars().count()),
        format!("args={}", std::env::args().count()),
        format!(
            "stdin={}",
            stdin_read.map_or_else(|e| format!("err:{e}"), |n| n.to_string())
        ),
        item("tcp", std::net::TcpStream::connect(addr)),
        item("tcp_listen", std::net::TcpListener::bind("127.0.0.1:0")),
        item("udp", std::net::UdpSocket::bind("127.0.0.1:0")),
        item(
            "dns",
            std::net::ToSocketAddrs::to_socket_addrs(&("localhost", 80)),
        ),
    ]
    .join(";")
}

#[cfg(test)]
mod tests {
    use skill_sdk::testing::TestHost;

    #[test]
    fn unknown_attacks_fail() {
        let done = TestHost::new("attack")
            .arg("attack", "tickle")
            .run(super::run);
        assert_eq!(done.error(), Some("unknown attack `tickle`"));
    }

    #[test]
    fn a_bounded_attack_runs_natively() {
        let done = TestHost::new("attack")
            .arg("attack", "print")
            .arg("marker", "m")
            .run(super::run);
        assert_eq!(done.reply_texts(), ["printed"]);
    }
}
