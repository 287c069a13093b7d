//! The demo of broker mode: a redis-server of its own (or the one at --broker URL), a coordinator
//! process and worker processes of this binary; --restart-coordinator kills the coordinator mid-run.

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use common::children::ChildGuard;
use common::redis_server::RedisServer;
use redis::AsyncCommands;
use tokio::time::{Instant, sleep};
use tracing::{info, warn};

use super::{Keys, POLL, connect};
use crate::{DEMO_DEADLINE, EXIT_GRACE, VICTIM};

pub struct DemoConfig {
    /// `None`: start a throwaway redis-server.
    pub url: Option<String>,
    pub workers: u32,
    pub jobs: u32,
    pub job_size: u64,
    pub job_timeout: Duration,
    pub max_attempts: u32,
    pub crash_worker: bool,
    pub restart_coordinator: bool,
    pub poison_job: Option<u32>,
    pub worker_bin: Option<PathBuf>,
}

pub async fn demo(config: DemoConfig) -> anyhow::Result<ExitCode> {
    // Declared before the children: dropped after them, so the server outlives its clients.
    let server;
    let url = match config.url {
        Some(url) => url,
        None => match RedisServer::start() {
            Ok(started) => {
                server = started;
                info!(
                    "started a throwaway redis-server on port {} (no persistence)",
                    server.port()
                );
                server.url()
            }
            Err(why) => {
                eprintln!("error: {why}");
                return Ok(ExitCode::FAILURE);
            }
        },
    };
    let mut con = connect(&url).await?;
    let this = std::env::current_exe().context("cannot find this program")?;
    let program = config.worker_bin.clone().unwrap_or_else(|| this.clone());
    let keys = Keys::new(&format!("demo-{}", std::process::id()));
    info!(
        "run {} on {url}: {} jobs of {} numbers, {} worker processes of {}",
        keys.run,
        config.jobs,
        config.job_size,
        config.workers,
        program.display()
    );

    let mut workers = Vec::new();
    for i in 1..=config.workers {
        let name = format!("worker-{i}");
        let mut cmd = Command::new(&program);
        cmd.args([
            "worker", "--broker", &url, "--run-id", &keys.run, "--name", &name,
        ]);
        // The demo's jobs are few and long: one per read, so that every worker gets some (with a
        // batch, the first to read would take them all) and the crash hits a job.
        cmd.args(["--batch", "1"]);
        if config.crash_worker && i == VICTIM {
            cmd.args(["--crash-on-job", "1"]);
        }
        if let Some(id) = config.poison_job {
            cmd.args(["--hang-on-job", &id.to_string()]);
        }
        let child = ChildGuard::spawn(name, &mut cmd)
            .with_context(|| format!("cannot start {}", program.display()))?;
        workers.push(child);
    }
    let start_coordinator = || {
        let mut cmd = Command::new(&this);
        cmd.args([
            "coordinator",
            "--broker",
            &url,
            "--run-id",
            &keys.run,
            "--verify",
        ])
        .args(["--jobs", &config.jobs.to_string()])
        .args(["--job-size", &config.job_size.to_string()])
        .args([
            "--job-timeout-ms",
            &config.job_timeout.as_millis().to_string(),
        ])
        .args(["--max-attempts", &config.max_attempts.to_string()])
        .args(["--min-workers", &config.workers.to_string()]);
        ChildGuard::spawn("coordinator", &mut cmd).context("cannot start the coordinator")
    };
    let deadline = Instant::now() + DEMO_DEADLINE;
    let mut coordinator = start_coordinator()?;
    if config.restart_coordinator {
        // Kill it once the first result is in: some jobs are done, most are not.
        loop {
            let recorded: Option<u64> = con.hget(keys.tally(), "done").await?;
            let recorded = recorded.unwrap_or(0);
            if recorded > 0 {
                break;
            }
            if Instant::now() >= deadline || coordinator.try_wait()?.is_some() {
                bail!("no result before the coordinator was to be killed");
            }
            sleep(POLL).await;
        }
        coordinator.kill_and_wait()?;
        let recorded: Option<u64> = con.hget(keys.tally(), "done").await?;
        let recorded = recorded.unwrap_or(0);
        warn!(
            "killed the coordinator mid-run ({recorded} results recorded): the jobs and results \
             stay in Redis; starting a new one"
        );
        coordinator = start_coordinator()?;
    }
    let status = loop {
        if let Some(status) = coordinator.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            bail!("the demo did not finish within {DEMO_DEADLINE:?}");
        }
        sleep(POLL).await;
    };

    // The coordinator set the stop key: every worker notices within one BLOCK.
    let grace = Instant::now() + EXIT_GRACE;
    let mut unexpected = Vec::new();
    for worker in &mut workers {
        let status = loop {
            match worker.try_wait()? {
                Some(status) => break Some(status),
                None if Instant::now() >= grace => break None,
                None => sleep(POLL).await,
            }
        };
        let crashed_on_purpose = config.crash_worker && worker.name == format!("worker-{VICTIM}");
        let what = match status {
            Some(s) if crashed_on_purpose => format!("crashed mid-job on purpose ({s})"),
            Some(s) => s.to_string(),
            None => "still running after the run ended: killed".into(),
        };
        info!("{} exited: {what}", worker.name);
        let expected = status.is_some_and(|s| {
            if crashed_on_purpose {
                s.code() == Some(crate::worker::CRASH_EXIT_CODE)
            } else {
                s.success()
            }
        });
        if !expected {
            unexpected.push(format!("{}: {what}", worker.name));
        }
    }
    // With a server of its own, the server goes with the demo; with a URL, the coordinator
    // deleted the run's keys and the stop key expires.
    ensure!(
        unexpected.is_empty(),
        "workers exited unexpectedly: {unexpected:?}"
    );
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
