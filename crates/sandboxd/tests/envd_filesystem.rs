//! envd's `filesystem.Filesystem` RPCs, watches and `/files` in a real sandbox: results,
//! errors, users and permissions, gzip, metadata, a full disk.

mod envd_support;
mod sandbox_support;

use std::io::{Read, Write};
use std::time::Duration;

use bytes::Bytes;
use e2b_wire::connect::Code;
use envd_support::*;
use sandbox_support::{request, spawn, test_env, unique_id};
use sandboxd::sandbox::cgroup::Limits;
use sandboxd::sandbox::SandboxProcess;
use serde_json::json;

const FS: &str = "/filesystem.Filesystem/";

fn p(m: &str) -> String {
    format!("{FS}{m}")
}

#[tokio::test]
async fn rpcs_act_as_the_user() {
    let Some(env) = test_env(false) else { return };
    let sbx = spawn(&env, "fsrpc", false).await;

    let r = unary(&sbx, &p("MakeDir"), json!({"path": "a/b"}), None)
        .await
        .unwrap();
    assert_eq!(r["entry"]["path"], "/home/user/a/b");
    assert_eq!(r["entry"]["type"], "FILE_TYPE_DIRECTORY");
    assert_eq!(r["entry"]["owner"], "user");
    assert_eq!(r["entry"]["permissions"], "drwxr-xr-x");
    let e = unary(&sbx, &p("MakeDir"), json!({"path": "/home/user/a/b"}), None)
        .await
        .unwrap_err();
    assert_eq!((e.0, e.1.code), (409, Code::AlreadyExists));

    // Upload a file, then stat / list / move it.
    let (status, _, body) = http(
        &sbx,
        "POST",
        "/files?path=a%2Fhello.txt",
        &[
            ("content-type", "application/octet-stream".into()),
            ("x-metadata-Owner", "alice".into()),
        ],
        Bytes::from_static(b"hello"),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let written: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        written,
        json!([{"path": "/home/user/a/hello.txt", "name": "hello.txt", "type": "file", "metadata": {"owner": "alice"}}])
    );
    let st = unary(&sbx, &p("Stat"), json!({"path": "a/hello.txt"}), None)
        .await
        .unwrap();
    assert_eq!(st["entry"]["size"], "5");
    assert_eq!(st["entry"]["mode"], 0o644);
    assert_eq!(st["entry"]["metadata"], json!({"owner": "alice"}));
    assert!(st["entry"]["modifiedTime"].as_str().unwrap().ends_with('Z'));

    let (_, _, end) = run(
        &sbx,
        "ln -s /home/user/a/hello.txt /home/user/a/link; ln -s /nowhere /home/user/a/dangling",
        None,
    )
    .await;
    assert_eq!(end["exited"], true);
    let l = unary(
        &sbx,
        &p("ListDir"),
        json!({"path": "/home/user/a", "depth": 1}),
        None,
    )
    .await
    .unwrap();
    let entries = l["entries"].as_array().unwrap();
    let names: Vec<&str> = entries
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["b", "dangling", "hello.txt", "link"]);
    assert_eq!(entries[3]["isSymlink"], true);
    assert_eq!(entries[3]["type"], "FILE_TYPE_FILE");
    assert_eq!(entries[3]["symlinkTarget"], "/home/user/a/hello.txt");
    assert!(entries[1].get("type").is_none());

    let mv = unary(
        &sbx,
        &p("Move"),
        json!({"source": "a/hello.txt", "destination": "c/d/moved.txt"}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(mv["entry"]["path"], "/home/user/c/d/moved.txt");
    let e = unary(
        &sbx,
        &p("Move"),
        json!({"source": "a/hello.txt", "destination": "x"}),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(e.1.code, Code::NotFound);
    let e = unary(&sbx, &p("Stat"), json!({"path": "nope"}), None)
        .await
        .unwrap_err();
    assert_eq!((e.0, e.1.code), (404, Code::NotFound));
    let e = unary(&sbx, &p("ListDir"), json!({"path": "c/d/moved.txt"}), None)
        .await
        .unwrap_err();
    assert_eq!(e.1.code, Code::InvalidArgument);
    unary(&sbx, &p("Remove"), json!({"path": "c"}), None)
        .await
        .unwrap();
    unary(&sbx, &p("Remove"), json!({"path": "c"}), None)
        .await
        .unwrap();

    // Permissions are the user's; root may.
    let e = unary(&sbx, &p("MakeDir"), json!({"path": "/root/x"}), None)
        .await
        .unwrap_err();
    assert_eq!(e.1.code, Code::PermissionDenied, "{e:?}");
    let e = unary(&sbx, &p("ListDir"), json!({"path": "/root"}), None)
        .await
        .unwrap_err();
    assert_eq!(e.1.code, Code::PermissionDenied, "{e:?}");
    let r = unary(
        &sbx,
        &p("MakeDir"),
        json!({"path": "/tmp/rootdir"}),
        Some("root"),
    )
    .await
    .unwrap();
    assert_eq!(r["entry"]["owner"], "root");
    let e = unary(&sbx, &p("Stat"), json!({"path": "x"}), Some("mallory"))
        .await
        .unwrap_err();
    assert_eq!(
        (e.0, e.1.code, e.1.message.as_str()),
        (401, Code::Unauthenticated, "invalid username: 'mallory'")
    );
    let e = unary(&sbx, &p("Stat"), json!({"path": "~root/x"}), None)
        .await
        .unwrap_err();
    assert_eq!(e.1.code, Code::InvalidArgument);
    sbx.kill().await;
}

#[tokio::test]
async fn files_up_and_down() {
    let Some(env) = test_env(false) else { return };
    // A small writable layer (every writable place, /dev/shm too, shares it) for the full-disk
    // case at the end.
    let mut req = request(&unique_id("fsfiles"), false);
    req.limits = Some(Limits {
        disk_mb: 32,
        ..env.rt.limits
    });
    let sbx = SandboxProcess::spawn(&env.rt, req).await.unwrap();

    // Multipart: the path travels in the part's filename, directories included.
    let body = "--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"d/one.txt\"\r\nContent-Type: text/plain\r\n\r\nONE\r\n\
--XX\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nignored\r\n\
--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"/tmp/two.bin\"\r\n\r\n\x00\x01\r\n--XX--\r\n";
    let (status, _, resp) = http(
        &sbx,
        "POST",
        "/files",
        &[("content-type", "multipart/form-data; boundary=XX".into())],
        Bytes::from(body),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&resp));
    let written: serde_json::Value = serde_json::from_slice(&resp).unwrap();
    assert_eq!(written[0]["path"], "/home/user/d/one.txt");
    assert_eq!(written[1]["path"], "/tmp/two.bin");
    let (status, h, got) = http(&sbx, "GET", "/files?path=d/one.txt", &[], Bytes::new()).await;
    assert_eq!(status, 200);
    assert_eq!(&got[..], b"ONE");
    assert_eq!(h["content-disposition"], "inline; filename=one.txt");
    assert_eq!(h["content-length"], "3");

    // gzip both ways.
    let data: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&data).unwrap();
    let (status, _, resp) = http(
        &sbx,
        "POST",
        "/files?path=big.bin&username=root",
        &[
            ("content-type", "application/octet-stream".into()),
            ("content-encoding", "gzip".into()),
        ],
        Bytes::from(enc.finish().unwrap()),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&resp));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&resp).unwrap()[0]["path"],
        "/root/big.bin"
    );
    let (status, h, got) = http(
        &sbx,
        "GET",
        "/files?path=big.bin&username=root",
        &[("accept-encoding", "gzip".into())],
        Bytes::new(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(h["content-encoding"], "gzip");
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&got[..])
        .read_to_end(&mut plain)
        .unwrap();
    assert_eq!(plain, data);
    let (_, h, got) = http(
        &sbx,
        "GET",
        "/files?path=big.bin&username=root",
        &[("accept-encoding", "gzip, deflate".into())],
        Bytes::new(),
    )
    .await;
    assert!(h.get("content-encoding").is_none());
    assert_eq!(got.len(), data.len());

    // Errors.
    let err = |b: &Bytes| serde_json::from_slice::<serde_json::Value>(b).unwrap();
    let (status, _, b) = http(&sbx, "GET", "/files?path=missing", &[], Bytes::new()).await;
    assert_eq!(
        (status, err(&b)),
        (
            404,
            json!({"code": 404, "message": "path '/home/user/missing' does not exist"})
        )
    );
    let (status, _, b) = http(&sbx, "GET", "/files?path=/tmp", &[], Bytes::new()).await;
    assert_eq!(
        (status, err(&b)["message"].as_str()),
        (400, Some("path '/tmp' is a directory"))
    );
    run(&sbx, "chmod 600 /root/big.bin", Some("root")).await;
    let (status, _, _) = http(&sbx, "GET", "/files?path=big.bin", &[], Bytes::new()).await;
    assert_eq!(status, 404, "relative paths are under the user's own home");
    let (status, _, _) = http(&sbx, "GET", "/files?path=/root/big.bin", &[], Bytes::new()).await;
    assert_eq!(status, 403);
    let (status, _, b) = http(
        &sbx,
        "GET",
        "/files?path=x&username=mallory",
        &[],
        Bytes::new(),
    )
    .await;
    assert_eq!(status, 401, "{b:?}");
    let (status, _, b) = http(
        &sbx,
        "POST",
        "/files",
        &[("content-type", "application/octet-stream".into())],
        Bytes::from_static(b"x"),
    )
    .await;
    assert_eq!(
        (status, err(&b)["message"].as_str()),
        (
            400,
            Some("path query parameter is required for raw body upload")
        )
    );
    let (status, _, _) = http(
        &sbx,
        "POST",
        "/files?path=x",
        &[("content-type", "text/plain".into())],
        Bytes::from_static(b"x"),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _, _) = http(
        &sbx,
        "POST",
        "/files?path=/tmp",
        &[("content-type", "application/octet-stream".into())],
        Bytes::from_static(b"x"),
    )
    .await;
    assert_eq!(status, 400);

    // A full file system is 507.
    let (out, _, _) = run(&sbx, "df -B1 --output=avail /dev/shm | tail -1", None).await;
    let avail: usize = out.trim().parse().unwrap();
    let big = Bytes::from(vec![7u8; avail + (1 << 20)]);
    let (status, _, b) = http(
        &sbx,
        "POST",
        "/files?path=/dev/shm/fill",
        &[("content-type", "application/octet-stream".into())],
        big,
    )
    .await;
    assert_eq!(status, 507, "{}", String::from_utf8_lossy(&b));
    assert!(err(&b)["message"]
        .as_str()
        .unwrap()
        .contains("not enough disk space available"));
    sbx.kill().await;
}

#[tokio::test]
async fn watches_report_events() {
    let Some(env) = test_env(false) else { return };
    let sbx = spawn(&env, "fswatch", false).await;
    unary(&sbx, &p("MakeDir"), json!({"path": "w/sub"}), None)
        .await
        .unwrap();

    // Polled watcher.
    let r = unary(
        &sbx,
        &p("CreateWatcher"),
        json!({"path": "w", "recursive": true, "includeEntry": true}),
        None,
    )
    .await
    .unwrap();
    let id = r["watcherId"].as_str().unwrap().to_string();
    assert!(id.starts_with('w'));
    run(&sbx, "cd ~/w && echo 1 > f && chmod 600 f && mv f g && mkdir sub/new && echo 2 > sub/new/deep && rm g", None).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let ev = unary(&sbx, &p("GetWatcherEvents"), json!({"watcherId": id}), None)
        .await
        .unwrap();
    let got: Vec<(String, String)> = ev["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e["type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for want in [
        ("f", "EVENT_TYPE_CREATE"),
        ("f", "EVENT_TYPE_WRITE"),
        ("f", "EVENT_TYPE_CHMOD"),
        ("f", "EVENT_TYPE_RENAME"),
        ("g", "EVENT_TYPE_CREATE"),
        ("sub/new", "EVENT_TYPE_CREATE"),
        ("sub/new/deep", "EVENT_TYPE_CREATE"),
        ("g", "EVENT_TYPE_REMOVE"),
    ] {
        assert!(
            got.contains(&(want.0.into(), want.1.into())),
            "{want:?} not in {got:?}"
        );
    }
    let created = ev["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "f" && e["type"] == "EVENT_TYPE_CREATE")
        .unwrap();
    assert_eq!(created["entry"]["path"], "/home/user/w/f");
    let again = unary(&sbx, &p("GetWatcherEvents"), json!({"watcherId": id}), None)
        .await
        .unwrap();
    assert_eq!(again, json!({"events": []}));
    unary(&sbx, &p("RemoveWatcher"), json!({"watcherId": id}), None)
        .await
        .unwrap();
    let e = unary(&sbx, &p("GetWatcherEvents"), json!({"watcherId": id}), None)
        .await
        .unwrap_err();
    assert_eq!(e.1.code, Code::NotFound);
    let e = unary(&sbx, &p("CreateWatcher"), json!({"path": "nope"}), None)
        .await
        .unwrap_err();
    assert_eq!(e.1.code, Code::NotFound);
    let e = unary(
        &sbx,
        &p("CreateWatcher"),
        json!({"path": "/etc/hostname"}),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(e.1.code, Code::InvalidArgument);

    // Streaming watch: start first, then events; not recursive here.
    let mut s = stream(
        &sbx,
        &p("WatchDir"),
        json!({"path": "/home/user/w"}),
        None,
        &[],
    )
    .await;
    assert_eq!(s.next().await.unwrap(), json!({"start": {}}));
    run(&sbx, "touch ~/w/streamed; touch ~/w/sub/not-reported", None).await;
    let m = s.next().await.unwrap();
    assert_eq!(
        m,
        json!({"filesystem": {"name": "streamed", "type": "EVENT_TYPE_CREATE"}})
    );
    s.task.abort();
    let mut s = stream(&sbx, &p("WatchDir"), json!({"path": "/nope"}), None, &[]).await;
    assert_eq!(s.rest().await.1.unwrap_err().code, Code::NotFound);
    sbx.kill().await;
}
