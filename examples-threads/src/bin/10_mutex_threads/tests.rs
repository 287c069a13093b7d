//! Real threads on a machine that may be busy. The race is forced by the barrier, so the buggy
//! outcome is certain, not likely; the locked outcomes hold for every interleaving. Timing
//! bounds: a sleep never ends early (exact lower bounds), upper bounds are generous.
use super::*;
use crate::report::Answer;

#[test]
fn without_a_lock_across_the_dispense_both_withdrawals_are_approved() {
    let report = run_unlocked().expect("no ATM panics");
    assert_eq!(report.count(Outcome::Approved), 2, "{report:?}");
    // 160 dispensed from 100, and the account still says 20: one update was lost.
    assert_eq!(report.dispensed(), 160);
    assert_eq!(report.balance, 20);
    assert!(!report.books_balance());
}

#[test]
fn a_mutex_held_to_the_write_rejects_one_and_the_books_balance() {
    let report = run_locked().expect("no ATM panics");
    assert_eq!(report.count(Outcome::Approved), 1, "{report:?}");
    assert_eq!(report.count(Outcome::Rejected), 1, "{report:?}");
    assert_eq!((report.balance, report.dispensed()), (20, 80));
    assert!(report.books_balance());
    // The rejected ATM waited for the lock while the other one dispensed.
    assert!(
        report.rejection_after() >= CARD_CHECK + DISPENSE,
        "{report:?}"
    );
}

#[test]
fn a_short_reservation_is_also_correct_and_answers_without_waiting_for_the_dispense() {
    let report = run_reserved().expect("no ATM panics");
    assert_eq!(report.count(Outcome::Approved), 1, "{report:?}");
    assert_eq!(report.count(Outcome::Rejected), 1, "{report:?}");
    assert_eq!((report.balance, report.dispensed()), (20, 80));
    assert!(report.books_balance());
    let rejected = report.rejection_after();
    assert!(rejected >= CARD_CHECK, "{report:?}");
    // Nobody holds the lock during the dispense: "no" comes long before the 250 ms mark.
    assert!(rejected < CARD_CHECK + DISPENSE, "{report:?}");
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
