//! The scenario of 01, plus a header: three fetches and a render, each a timer standing in for
//! the network. Each logs when it starts, so the log shows when a future began to run.

use std::time::Duration;

use tokio::time::sleep;
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

pub async fn fetch_user_profile(user_id: u32) -> Profile {
    info!("fetch_user_profile: request sent");
    sleep(PROFILE_DELAY).await;
    info!("fetch_user_profile: got Alice");
    Profile {
        id: user_id,
        name: "Alice",
    }
}

pub async fn fetch_recent_orders(user_id: u32) -> Vec<String> {
    info!("fetch_recent_orders: request sent");
    sleep(ORDERS_DELAY).await;
    info!("fetch_recent_orders: got 2 orders");
    vec![format!("order-{user_id}001"), format!("order-{user_id}002")]
}

pub async fn fetch_recommendations(_user_id: u32) -> Vec<&'static str> {
    info!("fetch_recommendations: request sent");
    sleep(RECOMMENDATIONS_DELAY).await;
    info!("fetch_recommendations: got 3 items");
    vec!["book", "laptop stand", "coffee mug"]
}

/// The "other work" the page can do while the data is on its way (upstream: 0.3 s).
pub async fn render_static_header() -> &'static str {
    info!("render_static_header: rendering");
    sleep(HEADER_DELAY).await;
    info!("render_static_header: done");
    "<h1>Dashboard</h1>"
}
