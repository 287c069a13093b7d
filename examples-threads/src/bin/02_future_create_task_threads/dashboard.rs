//! The scenario of 01, plus a header: three fetches and a render, as blocking calls
//! (`thread::sleep` stands in for a blocking network read). Each logs when it starts and on which
//! thread.

use std::thread;
use std::time::Duration;

use tracing::info;

pub const PROFILE_DELAY: Duration = Duration::from_millis(300);
pub const ORDERS_DELAY: Duration = Duration::from_millis(600);
pub const RECOMMENDATIONS_DELAY: Duration = Duration::from_millis(450);
pub const HEADER_DELAY: Duration = Duration::from_millis(90);

#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub id: u32,
    pub name: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dashboard {
    pub header: &'static str,
    pub profile: Profile,
    pub orders: Vec<String>,
    pub recommendations: Vec<&'static str>,
}

pub fn fetch_user_profile(user_id: u32) -> Profile {
    info!("fetch_user_profile: request sent");
    thread::sleep(PROFILE_DELAY);
    info!("fetch_user_profile: got Alice");
    Profile {
        id: user_id,
        name: "Alice",
    }
}

pub fn fetch_recent_orders(user_id: u32) -> Vec<String> {
    info!("fetch_recent_orders: request sent");
    thread::sleep(ORDERS_DELAY);
    info!("fetch_recent_orders: got 2 orders");
    vec![format!("order-{user_id}001"), format!("order-{user_id}002")]
}

pub fn fetch_recommendations(_user_id: u32) -> Vec<&'static str> {
    info!("fetch_recommendations: request sent");
    thread::sleep(RECOMMENDATIONS_DELAY);
    info!("fetch_recommendations: got 3 items");
    vec!["book", "laptop stand", "coffee mug"]
}

/// The "other work" the page can do while the data is on its way (upstream: 0.3 s).
pub fn render_static_header() -> &'static str {
    info!("render_static_header: rendering");
    thread::sleep(HEADER_DELAY);
    info!("render_static_header: done");
    "<h1>Dashboard</h1>"
}
