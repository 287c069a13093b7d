//! On the paused clock both ATMs finish their card check at exactly the same instant, so the
//! interleaving is the same on every run: these outcomes are deterministic, not lucky.
use super::*;
use crate::report::Answer;

#[tokio::test(start_paused = true)]
async fn without_a_lock_across_the_await_both_withdrawals_are_approved() {
    let report = run_unlocked().await.expect("no ATM panics");
    assert_eq!(report.count(Outcome::Approved), 2, "{report:?}");
    // 160 dispensed from 100, and the account still says 20: one update was lost.
    assert_eq!(report.dispensed(), 160);
    assert_eq!(report.balance, 20);
    assert!(!report.books_balance());
}

#[tokio::test(start_paused = true)]
async fn a_tokio_mutex_across_the_await_rejects_one_and_the_books_balance() {
    let report = run_locked().await.expect("no ATM panics");
    assert_eq!(report.count(Outcome::Approved), 1, "{report:?}");
    assert_eq!(report.count(Outcome::Rejected), 1, "{report:?}");
    assert_eq!((report.balance, report.dispensed()), (20, 80));
    assert!(report.books_balance());
    // The rejected ATM waited for the lock while the other one dispensed.
    assert_eq!(report.rejection_after(), CARD_CHECK + DISPENSE);
}

#[tokio::test(start_paused = true)]
async fn a_short_std_mutex_reservation_is_also_correct_and_answers_at_once() {
    let report = run_reserved().await.expect("no ATM panics");
    assert_eq!(report.count(Outcome::Approved), 1, "{report:?}");
    assert_eq!(report.count(Outcome::Rejected), 1, "{report:?}");
    assert_eq!((report.balance, report.dispensed()), (20, 80));
    assert!(report.books_balance());
    // Nobody holds the lock during the dispense, so "no" comes right after the card check.
    assert_eq!(report.rejection_after(), CARD_CHECK);
}

#[tokio::test(start_paused = true)]
async fn every_run_takes_one_card_check_and_one_dispense() {
    // The approved withdrawal is the critical path in all three versions.
    for took in [
        time_async(run_unlocked()).await.1,
        time_async(run_locked()).await.1,
        time_async(run_reserved()).await.1,
    ] {
        assert_eq!(took, CARD_CHECK + DISPENSE);
    }
}

#[test]
fn the_summary_line_names_the_bug() {
    let approved = |atm| Answer {
        atm,
        outcome: Outcome::Approved,
        answered_after: CARD_CHECK + DISPENSE,
    };
    let report = Report {
        answers: vec![approved("ATM-1"), approved("ATM-2")],
        balance: 20,
    };
    assert_eq!(
        report.summary("no lock"),
        "no lock: 2 approved, 0 rejected, balance 20, dispensed 160: BUG, the books are off by 80"
    );
}
