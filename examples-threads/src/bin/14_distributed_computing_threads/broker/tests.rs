use super::collect::entry_after;
use super::reclaim::entry_before;
use super::*;
use crate::protocol::plan_jobs;

#[test]
fn entry_before_and_after_are_next_door() {
    assert_eq!(entry_before("1700-5"), "1700-4");
    assert_eq!(entry_before("1700-0"), format!("1699-{}", u64::MAX));
    assert_eq!(entry_after("1700-5"), "1700-6");
    assert_eq!(entry_after(&format!("1700-{}", u64::MAX)), "1701-0");
}

#[test]
fn every_key_carries_the_run_id() {
    let keys = Keys::new("r42");
    for key in keys.all().into_iter().chain([keys.stop()]) {
        assert!(key.starts_with("dist14:r42:"), "{key}");
    }
}

#[test]
fn job_of_numbers_jobs_as_the_plan_does() {
    for (i, job) in plan_jobs(5, 7).into_iter().enumerate() {
        assert_eq!(job_of(i as u32 + 1, 7), job);
    }
}

#[test]
fn seen_counts_each_id_once_in_redis_bit_order() {
    // SETBIT done 1 1 and SETBIT done 9 1: bytes 0b0100_0000, 0b0100_0000.
    let mut seen = Seen::new(vec![0x40, 0x40], 20);
    assert_eq!(seen.len(), 2);
    assert!(seen.contains(1) && seen.contains(9) && !seen.contains(2));
    assert!(!seen.insert(9));
    assert!(seen.insert(20));
    assert!(!seen.insert(20));
    assert_eq!(seen.len(), 3);
}

#[test]
fn an_error_chain_names_each_cause_once() {
    let io = std::io::Error::new(std::io::ErrorKind::BrokenPipe, "broken pipe");
    let e = anyhow::Error::new(io)
        .context("broken pipe")
        .context("worker: Redis at redis://x");
    assert_eq!(
        one_line(e).to_string(),
        "worker: Redis at redis://x: broken pipe"
    );
}
