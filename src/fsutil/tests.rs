use super::*;
use std::fs::{self, File};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

fn rules(force: bool, home: Option<&Path>) -> OutputRules<'_> {
    OutputRules { force, home }
}

#[test]
fn atomic_write_sets_mode_and_content() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("k.pem");
    write_atomic(&p, b"secret", MODE_SECRET).unwrap();
    assert_eq!(fs::read(&p).unwrap(), b"secret");
    assert_eq!(
        fs::metadata(&p).unwrap().permissions().mode() & 0o777,
        0o600
    );
    write_atomic(&p, b"again", MODE_PUBLIC).unwrap();
    assert_eq!(fs::read(&p).unwrap(), b"again");
    assert_eq!(
        fs::metadata(&p).unwrap().permissions().mode() & 0o777,
        0o644
    );
    // No temporary files left behind.
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn existing_outputs_need_force() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("out.pem");
    fs::write(&p, b"old").unwrap();
    let e = write_output(&p, b"new", MODE_PUBLIC, &rules(false, None)).unwrap_err();
    assert!(matches!(e, FsError::Exists(_)), "{e}");
    assert_eq!(fs::read(&p).unwrap(), b"old");
    write_output(&p, b"new", MODE_PUBLIC, &rules(true, None)).unwrap();
    assert_eq!(fs::read(&p).unwrap(), b"new");
}

#[test]
fn outputs_inside_the_home_are_always_refused() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    fs::create_dir_all(home.join("ca")).unwrap();
    fs::write(home.join("ca/issuing.pem"), b"CA").unwrap();
    let sneaky = [
        home.join("ca/issuing.pem"),
        home.join("ca/../ca/issuing.pem"),
        home.join("ca/new.pem"),
    ];
    for p in &sneaky {
        let e = write_output(p, b"x", MODE_PUBLIC, &rules(true, Some(&home))).unwrap_err();
        assert!(
            matches!(e, FsError::InsideHome { .. }),
            "{}: {e}",
            p.display()
        );
    }
    // A symlink outside pointing into the home.
    let link = dir.path().join("link.pem");
    std::os::unix::fs::symlink(home.join("ca/issuing.pem"), &link).unwrap();
    let e = write_output(&link, b"x", MODE_PUBLIC, &rules(true, Some(&home))).unwrap_err();
    assert!(matches!(e, FsError::InsideHome { .. }), "{e}");
    // A relative path from inside the home.
    let e = create_output_dir(&home.join("ca/sub"), &rules(false, Some(&home))).unwrap_err();
    assert!(matches!(e, FsError::InsideHome { .. }), "{e}");
    assert_eq!(fs::read(home.join("ca/issuing.pem")).unwrap(), b"CA");
    assert!(!home.join("ca/new.pem").exists() && !home.join("ca/sub").exists());
}

#[test]
fn symlinked_outputs_are_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.pem");
    fs::write(&real, b"old").unwrap();
    let link = dir.path().join("link.pem");
    std::os::unix::fs::symlink("real.pem", &link).unwrap();
    let chain = dir.path().join("chain.pem");
    std::os::unix::fs::symlink("link.pem", &chain).unwrap();
    write_output(&chain, b"new", MODE_PUBLIC, &rules(true, None)).unwrap();
    assert_eq!(fs::read(&real).unwrap(), b"new");
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(fs::symlink_metadata(&chain)
        .unwrap()
        .file_type()
        .is_symlink());
    // A dangling link: its target is created.
    let dangling = dir.path().join("dangling.pem");
    std::os::unix::fs::symlink("target.pem", &dangling).unwrap();
    write_output(&dangling, b"t", MODE_PUBLIC, &rules(false, None)).unwrap();
    assert_eq!(fs::read(dir.path().join("target.pem")).unwrap(), b"t");
    assert!(fs::symlink_metadata(&dangling)
        .unwrap()
        .file_type()
        .is_symlink());
}

/// The kernel's `protected_symlinks` rule, whatever the sysctl says: in a
/// sticky world-writable directory a link of another user is not
/// followed, at any hop of the chain; one of the user's own, or of the
/// directory's owner, is; outside such a directory nothing changes.
#[test]
fn foreign_links_in_sticky_world_writable_dirs_are_not_followed() {
    use std::os::unix::fs::{lchown, symlink};
    if rustix::process::geteuid().as_raw() != 0 {
        return; // only root can give a link away
    }
    const NOBODY: u32 = 65534;
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    fs::create_dir(&tmp).unwrap();
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o1777)).unwrap();
    let victim = dir.path().join("victim.pem");
    fs::write(&victim, b"precious").unwrap();
    let force = rules(true, None);

    let planted = tmp.join("out.pem");
    symlink(&victim, &planted).unwrap();
    lchown(&planted, Some(NOBODY), Some(NOBODY)).unwrap();
    let e = write_output(&planted, b"new", MODE_PUBLIC, &force).unwrap_err();
    assert!(
        matches!(&e, FsError::ForeignLink { link, owner: NOBODY, .. } if *link == planted),
        "{e}"
    );
    assert!(e.to_string().contains("uid 65534"), "{e}");
    assert!(check_output(&planted, &force).is_err());
    // Reached through a link of the user's own: refused at that hop.
    let mine = tmp.join("mine.pem");
    symlink("out.pem", &mine).unwrap();
    let e = write_output(&mine, b"new", MODE_PUBLIC, &force).unwrap_err();
    assert!(
        matches!(&e, FsError::ForeignLink { link, .. } if *link == planted),
        "{e}"
    );
    assert_eq!(fs::read(&victim).unwrap(), b"precious");
    assert!(fs::symlink_metadata(&planted).unwrap().is_symlink());

    // The user's own link in the same directory is followed.
    let own = tmp.join("own.pem");
    symlink(&victim, &own).unwrap();
    write_output(&own, b"mine", MODE_PUBLIC, &force).unwrap();
    assert_eq!(fs::read(&victim).unwrap(), b"mine");

    // A link of the directory's owner is followed.
    let owned = dir.path().join("owned");
    fs::create_dir(&owned).unwrap();
    fs::set_permissions(&owned, fs::Permissions::from_mode(0o1777)).unwrap();
    std::os::unix::fs::chown(&owned, Some(NOBODY), None).unwrap();
    let by_owner = owned.join("link.pem");
    symlink(&victim, &by_owner).unwrap();
    lchown(&by_owner, Some(NOBODY), None).unwrap();
    write_output(&by_owner, b"owner", MODE_PUBLIC, &force).unwrap();
    assert_eq!(fs::read(&victim).unwrap(), b"owner");

    // Only the sticky world-writable case: a foreign link elsewhere is
    // followed as before.
    for mode in [0o755, 0o777, 0o1755] {
        let plain = dir.path().join(format!("plain{mode:o}"));
        fs::create_dir(&plain).unwrap();
        fs::set_permissions(&plain, fs::Permissions::from_mode(mode)).unwrap();
        let foreign = plain.join("link.pem");
        symlink(&victim, &foreign).unwrap();
        lchown(&foreign, Some(NOBODY), None).unwrap();
        write_output(
            &foreign,
            format!("{mode:o}").as_bytes(),
            MODE_PUBLIC,
            &force,
        )
        .unwrap();
        assert_eq!(fs::read(&victim).unwrap(), format!("{mode:o}").as_bytes());
    }
}

#[test]
fn special_files_are_written_to_not_replaced() {
    let null = Path::new("/dev/null");
    write_output(null, b"data", MODE_PUBLIC, &rules(false, None)).unwrap();
    assert!(fs::metadata(null).unwrap().file_type().is_char_device());
    // A FIFO without a reader: an error, not a hang.
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let t = Instant::now();
    assert!(write_output(&fifo, b"x", MODE_PUBLIC, &rules(false, None)).is_err());
    assert!(t.elapsed() < Duration::from_secs(1));
    assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
}

#[test]
fn a_refused_batch_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("b"), b"old").unwrap();
    let mut b = AtomicBatch::for_many();
    b.add_output(
        &dir.path().join("a"),
        b"1",
        MODE_PUBLIC,
        &rules(false, None),
    )
    .unwrap();
    assert!(b
        .add_output(
            &dir.path().join("b"),
            b"2",
            MODE_PUBLIC,
            &rules(false, None)
        )
        .is_err());
    assert!(b
        .add_output(&dir.path().join("a"), b"3", MODE_PUBLIC, &rules(true, None))
        .is_err());
    drop(b);
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["b"], "nothing renamed, no temporary file left");
}

#[test]
fn outputs_written_together_are_checked_for_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::create_dir(d.join("sub")).unwrap();
    let (a, b) = (d.join("sub/a.pem"), d.join("sub/b.pem"));
    let r = rules(false, None);
    check_outputs([a.as_path(), b.as_path()], &r).unwrap();
    // The same file by another name: `..`, or a symlink to it.
    let dotdot = d.join("sub/../sub/a.pem");
    assert!(matches!(
        check_outputs([a.as_path(), b.as_path(), dotdot.as_path()], &r),
        Err(FsError::SameOutputTwice(p)) if p == dotdot
    ));
    std::os::unix::fs::symlink(d.join("sub"), d.join("link")).unwrap();
    let via_link = d.join("link/b.pem");
    assert!(matches!(
        check_outputs([a.as_path(), b.as_path(), via_link.as_path()], &r),
        Err(FsError::SameOutputTwice(_))
    ));
    std::os::unix::fs::symlink(&a, d.join("to-a.pem")).unwrap();
    let to_a = d.join("to-a.pem");
    assert!(matches!(
        check_outputs([a.as_path(), to_a.as_path()], &r),
        Err(FsError::SameOutputTwice(_))
    ));
    // The rules of each output still apply.
    fs::write(&b, b"x").unwrap();
    assert!(matches!(
        check_outputs([a.as_path(), b.as_path()], &r),
        Err(FsError::Exists(_))
    ));
    check_outputs([a.as_path(), b.as_path()], &rules(true, None)).unwrap();
}

#[test]
fn write_into_missing_dir_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let err = write_atomic(&dir.path().join("nope/x"), b"1", MODE_PUBLIC).unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
}

#[test]
fn only_regular_files_are_read_and_never_waited_on() {
    let dir = tempfile::tempdir().unwrap();
    let e = read_input(dir.path()).unwrap_err();
    assert!(matches!(e, FsError::NotRegular { .. }), "{e}");
    let e = read_input(&dir.path().join("missing")).unwrap_err();
    assert!(e.to_string().contains("no such file"), "{e}");
    let empty = dir.path().join("empty");
    fs::write(&empty, b"").unwrap();
    assert!(read_input(&empty)
        .unwrap_err()
        .to_string()
        .contains("empty"));
    for dev in ["/dev/zero", "/dev/null"] {
        let e = read_input(Path::new(dev)).unwrap_err();
        assert!(matches!(e, FsError::NotRegular { .. }), "{dev}: {e}");
    }
    let fifo = dir.path().join("fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let (tx, rx) = std::sync::mpsc::channel();
    let f2 = fifo.clone();
    std::thread::spawn(move || {
        let _ = tx.send(read_input(&f2).map(|_| ()));
    });
    let r = rx
        .recv_timeout(Duration::from_secs(2))
        .expect("reading a FIFO must not hang");
    assert!(
        matches!(r, Err(FsError::NotRegular { kind: "a FIFO", .. })),
        "{r:?}"
    );
    let sock = dir.path().join("sock");
    let _l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let e = read_input(&sock).unwrap_err();
    assert!(
        matches!(
            e,
            FsError::NotRegular {
                kind: "a socket",
                ..
            }
        ),
        "{e}"
    );
    let big = dir.path().join("big");
    File::create(&big)
        .unwrap()
        .set_len(MAX_INPUT_BYTES + 1)
        .unwrap();
    assert!(matches!(read_input(&big), Err(FsError::TooLarge { .. })));
}

#[test]
fn stale_temp_files_of_dead_processes_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let stale = dir.path().join(format!("{TEMP_PREFIX}{dead}-abc"));
    let mine = dir
        .path()
        .join(format!("{TEMP_PREFIX}{}-abc", std::process::id()));
    let other = dir.path().join(".pushca-tmp-notapid");
    for p in [&stale, &mine, &other] {
        fs::write(p, b"x").unwrap();
    }
    assert_eq!(remove_stale_temp_files(dir.path()), 1);
    assert!(!stale.exists() && mine.exists() && other.exists());
}

#[test]
fn sources_of_bytes_keep_the_limits_of_a_file() {
    let s = Source::bytes("<stdin>", b"data".to_vec()).unwrap();
    assert_eq!(s.name(), Path::new("<stdin>"));
    assert_eq!(s.read().unwrap(), b"data");
    assert!(s.path().is_none());
    assert!(matches!(
        Source::bytes("<stdin>", Vec::new()),
        Err(FsError::Read { .. })
    ));
    let big = vec![0u8; MAX_INPUT_BYTES as usize + 1];
    let e = Source::bytes("<stdin>", big.clone()).unwrap_err();
    assert!(matches!(e, FsError::TooLarge { .. }), "{e}");
    assert!(e.to_string().starts_with("<stdin>:"), "{e}");
    // A stream is read no further than the cap.
    let e = read_stream(&big[..], Path::new("<stdin>"), MAX_INPUT_BYTES, "none").unwrap_err();
    assert!(matches!(e, FsError::TooLarge { .. }), "{e}");
    assert!(format!("{s:?}").contains("len"), "no bytes in Debug");
}

#[test]
fn a_returned_output_comes_back_once_and_writes_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let r = rules(false, None);
    let file = Sink::File(dir.path().join("a.pem"));
    let mut b = AtomicBatch::new();
    b.add_sink(&file, b"file", MODE_PUBLIC, &r).unwrap();
    b.add_sink(&Sink::Return, b"key", MODE_SECRET, &r).unwrap();
    let e = b
        .add_sink(&Sink::Return, b"again", MODE_PUBLIC, &r)
        .unwrap_err();
    assert!(
        matches!(&e, FsError::SameOutputTwice(p) if p == Path::new("-")),
        "{e}"
    );
    let returned = b.commit_returning().unwrap().unwrap();
    assert_eq!(returned.as_bytes(), b"key");
    assert!(
        !format!("{returned:?}").contains("key"),
        "no bytes in Debug"
    );
    assert_eq!(fs::read(dir.path().join("a.pem")).unwrap(), b"file");
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    assert_eq!(serde_json::to_value(&Sink::Return).unwrap(), "-");
    assert_eq!(
        serde_json::to_value(&file).unwrap(),
        file.name().to_str().unwrap()
    );
    assert!(write_sink(&Sink::Return, b"x", MODE_PUBLIC, &r)
        .unwrap()
        .is_some());
}

#[test]
fn read_and_write_errors_keep_the_io_error_as_their_source() {
    use std::error::Error as _;
    let dir = tempfile::tempdir().unwrap();
    let e = read_input(&dir.path().join("missing")).unwrap_err();
    let io = e
        .source()
        .and_then(|s| s.downcast_ref::<io::Error>())
        .expect("the io::Error is the source");
    assert_eq!(io.kind(), io::ErrorKind::NotFound);
    assert!(
        e.to_string().ends_with(": no such file or directory"),
        "{e}"
    );
    // A regular file where a directory should be: ENOTDIR from the system.
    let file = dir.path().join("file");
    fs::write(&file, b"x").unwrap();
    let e = write_atomic(&file.join("x"), b"1", MODE_PUBLIC).unwrap_err();
    assert!(matches!(e, FsError::Write { .. }), "{e}");
    let io = e.source().and_then(|s| s.downcast_ref::<io::Error>());
    assert_eq!(io.and_then(io::Error::raw_os_error), Some(20), "{e}");
    assert!(
        e.to_string().ends_with(": a parent is not a directory"),
        "{e}"
    );
}
