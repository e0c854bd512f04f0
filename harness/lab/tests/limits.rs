//! Every container the lab starts is bounded beyond CPU, memory and processes: its logs are capped
//! by the engine (a container that logs without end costs the host a bounded amount, and the lab
//! reads back a bounded amount), and it runs with the lab's ulimits (open files, no core dumps).
//! A one-shot helper that hangs is removed at its deadline. A node's `/state` is bounded in size and
//! outlives the container that wrote it while the case holds it.
//! Needs Docker and the lab's images; fails with the reason otherwise.
use ekc_lab::docker::{self, ContainerSpec};

#[tokio::test(flavor = "multi_thread")]
async fn logs_are_capped_and_ulimits_apply() {
    let d = docker::connect().await.unwrap_or_else(|e| panic!("Docker is required for this test: {e:#}"));
    assert!(docker::image_id(&d, docker::NETADMIN_IMAGE).await.unwrap().is_some(), "image {} missing: run `ekconform images`", docker::NETADMIN_IMAGE);
    let run_id = format!("limits-{}", std::process::id());
    // 48 MiB of output, three times what the log options keep; the limits are printed last.
    let script = "head -c 50331648 /dev/zero | tr '\\0' 'x' | fold -w 1023; echo; echo nofile=$(ulimit -n) core=$(ulimit -c)";
    let spec = ContainerSpec {
        name: format!("{run_id}-logger"),
        image: docker::NETADMIN_IMAGE.into(),
        entrypoint: Some(vec!["bash".into(), "-c".into()]),
        cmd: Some(vec![script.into()]),
        read_only: true,
        nano_cpus: 1_000_000_000,
        memory: 64 << 20,
        pids: 16,
        ..Default::default()
    };
    let ran = docker::run_oneshot(&d, &run_id, "limits", &spec).await;
    let _ = docker::sweep_run(&d, &run_id).await;
    let (code, out) = ran.unwrap_or_else(|e| panic!("running the logging container: {e:#}"));
    assert_eq!(code, 0, "the logging container failed: {}", &out[out.len().saturating_sub(300)..]);
    let cap = 2 * docker::LOG_MAX_FILE_BYTES as usize;
    assert!(out.len() <= cap + (1 << 20), "the engine kept {} bytes of logs, more than the cap of {cap}", out.len());
    assert!(out.len() >= docker::LOG_MAX_FILE_BYTES as usize / 2, "only {} bytes of logs kept: is the test still logging?", out.len());
    assert!(out.trim_end().ends_with("nofile=1024 core=0"), "ulimits not applied: {}", &out[out.len().saturating_sub(200)..]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hung_one_shot_helper_is_removed_at_its_deadline() {
    let d = docker::connect().await.unwrap_or_else(|e| panic!("Docker is required for this test: {e:#}"));
    let run_id = format!("limits-hang-{}", std::process::id());
    let spec = ContainerSpec {
        name: format!("{run_id}-sleeper"),
        image: docker::NETADMIN_IMAGE.into(),
        entrypoint: Some(vec!["sleep".into()]),
        cmd: Some(vec!["3600".into()]),
        read_only: true,
        memory: 16 << 20,
        pids: 4,
        ..Default::default()
    };
    let t0 = std::time::Instant::now();
    let r = docker::run_oneshot_within(&d, &run_id, "limits", &spec, std::time::Duration::from_secs(2)).await;
    let took = t0.elapsed();
    let left = docker::sweep_run(&d, &run_id).await.unwrap().containers;
    let e = r.expect_err("a helper sleeping for an hour returned");
    assert!(format!("{e:#}").contains("did not finish within 2 s"), "{e:#}");
    assert!(took < std::time::Duration::from_secs(20), "the deadline of 2 s took {took:?}");
    assert_eq!(left, 0, "the hung helper's container was left behind");
}

#[tokio::test(flavor = "multi_thread")]
async fn state_is_bounded_and_survives_its_writer() {
    let d = docker::connect().await.unwrap_or_else(|e| panic!("Docker is required for this test: {e:#}"));
    let run_id = format!("limits-state-{}", std::process::id());
    let vol = format!("{run_id}-state");
    let container = |name: &str, cmd: &str, mounts: Vec<(String, String)>| ContainerSpec {
        name: format!("{run_id}-{name}"),
        image: docker::NETADMIN_IMAGE.into(),
        entrypoint: Some(vec!["bash".into(), "-c".into()]),
        cmd: Some(vec![cmd.into()]),
        network: Some((docker::NO_NETWORK.into(), std::net::Ipv4Addr::UNSPECIFIED)),
        volumes: mounts,
        read_only: true,
        memory: 64 << 20,
        pids: 8,
        ..Default::default()
    };
    let at_state = vec![(vol.clone(), "/state".to_string())];
    let result = async {
        docker::create_state_volume(&d, &run_id, "limits", &vol).await?;
        // The keeper holds the volume as the lab's state keeper does for a case.
        docker::run_container(&d, &run_id, "limits", &container("keeper", "sleep infinity", vec![(vol.clone(), "/keep".into())])).await?;
        let fill = docker::run_oneshot(&d, &run_id, "limits", &container("fill", "echo kept > /state/seq; dd if=/dev/zero of=/state/fill bs=1M count=64 2>&1; du -k /state/fill", at_state.clone())).await?;
        let read = docker::run_oneshot(&d, &run_id, "limits", &container("read", "cat /state/seq", at_state.clone())).await?;
        anyhow::Ok((fill, read))
    }
    .await;
    let swept = docker::sweep_run(&d, &run_id).await.unwrap();
    let ((_, fill), (_, read)) = result.unwrap_or_else(|e| panic!("{e:#}"));
    let kib: u64 = fill.lines().last().and_then(|l| l.split_whitespace().next()).and_then(|k| k.parse().ok()).unwrap_or(u64::MAX);
    assert!(fill.contains("No space left on device"), "64 MiB fitted into /state: {fill}");
    assert!(kib <= docker::STATE_MAX_BYTES >> 10, "/state held {kib} KiB, more than its {} KiB", docker::STATE_MAX_BYTES >> 10);
    assert_eq!(read.trim(), "kept", "the state written by one container was gone for the next");
    assert_eq!(swept.volumes, 1, "the sweep removes the case's state volume: {swept:?}");
}
