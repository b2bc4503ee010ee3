//! The config file under the XDG config directory, named contexts, completion scripts, help.

use vmledger_testkit::{Reply, StandIn, sample};

use crate::cli::{code, stderr, stdout, vmledger, vmledger_in};

#[tokio::test]
async fn a_context_set_here_is_used_by_later_commands_without_flags() {
    let home = tempfile::tempdir().expect("tmp");
    let stand_in = StandIn::always(Reply::result(sample::vm("vm-1"))).await;
    let set =
        vmledger_in(home.path(), &["context", "set", "b", "--proxy-url", &stand_in.url, "--api-key", "kb", "--use"])
            .await;
    assert_eq!(code(&set), 0, "{}", stderr(&set));
    let file = home.path().join("vmledger/config.toml");
    let text = std::fs::read_to_string(&file).expect("config written under XDG_CONFIG_HOME");
    assert!(text.contains("current_context = \"b\"") && text.contains("[contexts.b]"), "{text}");

    let shown = vmledger_in(home.path(), &["vm", "show", "vm-1", "--json"]).await;
    assert_eq!(code(&shown), 0, "{}", stderr(&shown));
    assert_eq!(stand_in.seen()[0].header("x-api-key"), Some("kb"), "the context's key");

    let flag = vmledger_in(home.path(), &["vm", "show", "vm-1", "--api-key", "flag"]).await;
    assert_eq!(code(&flag), 0, "{}", stderr(&flag));
    assert_eq!(stand_in.seen()[1].header("x-api-key"), Some("flag"), "a flag wins over the context");

    let listed = vmledger_in(home.path(), &["context", "list", "-o", "json"]).await;
    let listed: serde_json::Value = serde_json::from_str(&stdout(&listed)).expect("json");
    assert_eq!(listed[0]["name"], "b");
    assert_eq!(listed[0]["current"], true);
}

#[tokio::test]
async fn set_keeps_the_files_comments_and_use_refuses_unknown_contexts() {
    let home = tempfile::tempdir().expect("tmp");
    let file = home.path().join("vmledger/config.toml");
    std::fs::create_dir_all(file.parent().expect("dir")).expect("dir");
    std::fs::write(&file, "# my federation\nchannel = \"federation\"\n\n[contexts.a]\nmember = \"org1\"\n")
        .expect("write");
    let set = vmledger_in(home.path(), &["context", "set", "a", "--as", "operator"]).await;
    assert_eq!(code(&set), 0, "{}", stderr(&set));
    let text = std::fs::read_to_string(&file).expect("read");
    assert!(text.starts_with("# my federation\n"), "{text}");
    assert!(text.contains("member = \"org1\"") && text.contains("as = \"operator\""), "{text}");

    let unknown = vmledger_in(home.path(), &["context", "use", "nope"]).await;
    assert_eq!(code(&unknown), 2, "{}", stderr(&unknown));
    assert!(stderr(&unknown).contains("contexts: a"), "{}", stderr(&unknown));
}

#[tokio::test]
async fn completion_scripts_for_bash_zsh_and_fish() {
    for (shell, marker) in [("bash", "complete -F"), ("zsh", "#compdef vmledger"), ("fish", "complete -c vmledger")] {
        let output = vmledger(&["completion", shell]).await;
        assert_eq!(code(&output), 0, "{shell}: {}", stderr(&output));
        let script = stdout(&output);
        assert!(script.contains(marker), "{shell}: {}", &script[..script.len().min(300)]);
        assert!(script.contains("migrate") && script.contains("output"), "{shell} knows the commands and flags");
    }
}

#[tokio::test]
async fn every_command_shows_examples_in_its_help() {
    let commands: &[&[&str]] = &[
        &[],
        &["cloud", "register"],
        &["host", "list"],
        &["vm", "register"],
        &["migrate", "run"],
        &["migrate", "check"],
        &["history", "vm"],
        &["usage"],
        &["events"],
        &["hash"],
        &["agent"],
        &["apply"],
        &["context", "set"],
        &["completion"],
        &["bench", "run"],
    ];
    for command in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let output = vmledger(&args).await;
        assert_eq!(code(&output), 0, "{command:?}: {}", stderr(&output));
        let help = stdout(&output);
        assert!(help.contains("Examples:") && help.contains("vmledger "), "{command:?} has no examples:\n{help}");
    }
}
