//! On the paused clock a phase lasts exactly as long as its slowest worker; the journal's order
//! is the order things happened in, so the phase rule is checked exactly.
use super::*;
use crate::journal::{Event, Kind};
use crate::report::{ordinal, slowest_worker_alone, sum_of_slowest_per_phase};

const SEEDS: [u64; 5] = [42, 1, 2, 3, 2024];

#[tokio::test(start_paused = true)]
async fn no_worker_starts_a_phase_before_all_finished_the_previous_one() {
    for seed in SEEDS {
        let run = run_phases(&plan(seed)).await.expect("no worker panics");
        assert_eq!(run.check(), Ok(()), "seed {seed}: {run:?}");
        for phase in 1..PHASES {
            let next_start = run
                .events
                .iter()
                .filter(|e| e.phase == phase + 1 && e.kind == Kind::Start)
                .map(|e| e.at)
                .min()
                .expect("phase has starts");
            assert!(next_start >= run.phase_end(phase), "seed {seed}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn exactly_one_leader_per_phase_and_every_worker_arrives_once() {
    for seed in SEEDS {
        let run = run_phases(&plan(seed)).await.expect("no worker panics");
        assert_eq!(run.leaders.len(), PHASES, "seed {seed}: {:?}", run.leaders);
        for phase in 1..=PHASES {
            assert_eq!(run.leaders_of(phase).len(), 1, "seed {seed} phase {phase}");
            let mut arrivals = run.arrival_order(phase);
            arrivals.sort_unstable();
            assert_eq!(arrivals, [1, 2, 3, 4, 5], "seed {seed} phase {phase}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn the_run_takes_exactly_the_slowest_worker_of_each_phase_summed() {
    for seed in SEEDS {
        let plan = plan(seed);
        let (run, took) = time_async(run_phases(&plan)).await;
        run.expect("no worker panics");
        assert_eq!(took, sum_of_slowest_per_phase(&plan), "seed {seed}");
        // Waiting costs something: the barrier run is never shorter than any worker alone.
        assert!(took >= slowest_worker_alone(&plan), "seed {seed}");
    }
}

#[test]
fn the_check_catches_a_worker_that_runs_ahead() {
    // A hand-made journal: everyone works phase after phase, but worker-2 starts phase 2 before
    // worker-5 has finished phase 1.
    let mut events = Vec::new();
    let ms = Duration::from_millis;
    for phase in 1..=PHASES {
        let base = (phase as u64 - 1) * 1000;
        for worker in 1..=WORKERS {
            events.push(Event {
                worker,
                phase,
                kind: Kind::Start,
                at: ms(base),
            });
        }
        for worker in 1..=WORKERS {
            events.push(Event {
                worker,
                phase,
                kind: Kind::Finish,
                at: ms(base + 100 * worker as u64),
            });
        }
    }
    let leaders = (1..=PHASES).map(|p| (p, 5)).collect();
    let good = Run {
        events: events.clone(),
        leaders,
    };
    assert_eq!(good.check(), Ok(()));

    let mut early = good.clone();
    let late_finish = early
        .events
        .iter()
        .position(|e| e.phase == 1 && e.worker == 5 && e.kind == Kind::Finish)
        .expect("worker-5 finishes phase 1");
    let start = Event {
        worker: 2,
        phase: 2,
        kind: Kind::Start,
        at: ms(450),
    };
    early
        .events
        .retain(|e| !(e.phase == 2 && e.worker == 2 && e.kind == Kind::Start));
    early.events.insert(late_finish, start);
    assert!(early.check().is_err());

    let mut two_leaders = good;
    two_leaders.leaders.push((2, 3));
    assert!(two_leaders.check().is_err());
}

#[test]
fn the_plan_is_reproducible_and_within_range() {
    assert_eq!(plan(42), plan(42));
    assert_ne!(plan(42), plan(43));
    for work in plan(42).iter().flatten() {
        assert!(WORK_MS.contains(&(work.as_millis() as u64)), "{work:?}");
    }
}

#[test]
fn ordinals_read_naturally() {
    let got: Vec<String> = [1, 2, 3, 4, 5, 11, 12, 21].map(ordinal).to_vec();
    assert_eq!(
        got,
        ["1st", "2nd", "3rd", "4th", "5th", "11th", "12th", "21st"]
    );
}

#[test]
fn help_names_the_example_not_the_crate() {
    use clap::CommandFactory;
    let help = Args::command().render_help().to_string();
    assert!(help.starts_with("11 · Barrier"), "{help}");
}
