//! `keycard test`: the committed examples pass; a file with one expectation flipped fails, exits
//! non-zero and says why, with the engine's reasons; JUnit XML is written either way.

use std::path::PathBuf;
use std::process::Command;

fn examples() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{files:?}");
    files
}

fn keycard_test(files: &[PathBuf], junit: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_keycard"))
        .arg("test")
        .args(files)
        .arg("--junit")
        .arg(junit)
        .output()
        .unwrap()
}

#[test]
fn the_examples_pass_and_a_flipped_expectation_fails_with_its_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let passing = keycard_test(&examples(), &junit);
    let report = String::from_utf8_lossy(&passing.stdout);
    assert!(
        passing.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&passing.stderr)
    );
    assert!(report.contains(" passed, 0 failed"), "{report}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("<testsuites>") && !xml.contains("<failure"),
        "{xml}"
    );

    // The Polytomic-style example with its first `expect: deny` turned into `allow`.
    let source = examples()
        .into_iter()
        .find(|path| path.ends_with("polytomic-workspace.yaml"))
        .unwrap();
    let text = std::fs::read_to_string(source).unwrap();
    let flipped = text.replacen(
        "resource: {type: model, id: churn}, expect: deny",
        "resource: {type: model, id: churn}, expect: allow",
        1,
    );
    assert_ne!(text, flipped);
    let file = dir.path().join("flipped.yaml");
    std::fs::write(&file, flipped).unwrap();
    let failing = keycard_test(std::slice::from_ref(&file), &junit);
    let report = String::from_utf8_lossy(&failing.stdout);
    assert!(!failing.status.success(), "{report}");
    assert!(
        report.contains("FAIL  but not one they do not own"),
        "{report}"
    );
    assert!(report.contains("expected allow, got deny"), "{report}");
    // The reasons name the policy, the role and the condition that did not hold.
    assert!(
        report.contains("policy `build` grants it to role `builder` only when `resource.owner == subject.id`, which did not hold"),
        "{report}"
    );
    assert!(report.contains("13 passed, 1 failed"), "{report}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<failure").count(), 1, "{xml}");

    // A lookup's set differs: what is missing and what is extra.
    let wrong_set = text.replace("expect: [revenue]}", "expect: [revenue, churn]}");
    std::fs::write(&file, wrong_set).unwrap();
    let failing = keycard_test(std::slice::from_ref(&file), &junit);
    let report = String::from_utf8_lossy(&failing.stdout);
    assert!(!failing.status.success());
    assert!(
        report.contains("- churn   (expected, not found)"),
        "{report}"
    );

    // A directory naming what it does not hold is refused, saying what.
    std::fs::write(
        &file,
        "directory:\n  groups:\n    - {name: a, roles: [ghost]}\ntests: []\n",
    )
    .unwrap();
    let broken = keycard_test(std::slice::from_ref(&file), &junit);
    assert!(!broken.status.success());
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert!(
        stderr.contains("group `a`: role `ghost` is neither in the directory nor on the server"),
        "{stderr}"
    );
}
