//! The command line itself: completions for every shell, help for every
//! flag, addresses written as a host name.

use std::io::BufRead;
use std::process::Stdio;

use crate::support::Env;

#[test]
fn completions_for_every_shell_name_the_commands_and_flags() {
    let env = Env::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let run = env.run(&["completions", shell]);
        run.expect(0);
        for word in ["check", "schema", "init", "dry-run", "retry-unknown", "format"] {
            assert!(run.stdout.contains(word), "{shell} completions lack {word}");
        }
    }
    // The bash script is valid bash.
    let script = env.write("campaign.bash", &env.run(&["completions", "bash"]).stdout);
    if let Ok(out) = std::process::Command::new("bash").arg("-n").arg(&script).output() {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    env.run(&["completions", "tcsh"]).expect(2).stderr_has("possible values");
}

#[test]
fn help_documents_every_flag_once() {
    let env = Env::new();
    let serve = env.run(&["inbound", "serve", "--help"]);
    serve.expect(0);
    assert_eq!(serve.stdout.matches(".campaign/state.db").count(), 1, "{}", serve.stdout);
    let import = env.run(&["inbound", "import", "--help"]);
    import.expect(0);
    let file = import.stdout.lines().find(|l| l.trim_start().starts_with("<FILE>")).unwrap_or("");
    assert!(file.trim_start().trim_start_matches("<FILE>").trim().len() > 10, "{}", import.stdout);
    let status = env.run(&["status", "-h"]);
    assert!(status.stdout.contains("--format <FORMAT>  Output:"), "{}", status.stdout);
}

#[test]
fn listen_accepts_a_host_name() {
    let env = Env::new();
    let mut child = env
        .cmd(&["inbound", "serve", "--listen", "localhost:0", "--state", "s.db"])
        .env("CONNECTLY_WEBHOOK_SECRET", "x")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stderr.take().unwrap()).read_line(&mut line).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        line.starts_with("listening on http://127.0.0.1:") || line.starts_with("listening on http://[::1]:"),
        "{line}"
    );
    let run = env
        .cmd(&["inbound", "serve", "--listen", "nowhere", "--state", "s.db"])
        .env("CONNECTLY_WEBHOOK_SECRET", "x")
        .output()
        .unwrap();
    crate::support::Run::from_output(run).expect(2).stderr_has("`nowhere` is not host:port");
}
