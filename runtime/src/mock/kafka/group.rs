//! The group coordinator: consumer groups with the classic rebalance protocol (JoinGroup →
//! SyncGroup → Heartbeat, LeaveGroup) and committed offsets.
//!
//! A JoinGroup starts a rebalance (or joins the one under way) and waits until every known
//! member has joined again, or until the rebalance timeout, after which the members that did
//! not rejoin are removed (as Kafka does). Members are also removed when they miss heartbeats
//! for their session timeout (checked whenever the group is touched). The first member to
//! join is the leader; it gets every member's subscription and sends the assignments in its
//! SyncGroup, which the other members wait for. Waits are bounded, so a vanished leader cannot
//! hold a connection forever.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::Notify;

use super::log::Code;

pub(crate) const ILLEGAL_GENERATION: Code = 22;
pub(crate) const INCONSISTENT_GROUP_PROTOCOL: Code = 23;
pub(crate) const UNKNOWN_MEMBER_ID: Code = 25;
pub(crate) const REBALANCE_IN_PROGRESS: Code = 27;
pub(crate) const INVALID_GROUP_ID: Code = 24;

/// The longest a JoinGroup or SyncGroup is held, whatever the client asked.
const MAX_WAIT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
}

struct Member {
    protocols: Vec<(String, Bytes)>,
    session_timeout: Duration,
    last_seen: Instant,
    /// Joined the rebalance under way.
    joined: bool,
    assignment: Bytes,
}

struct Group {
    state: State,
    generation: i32,
    protocol_type: String,
    protocol: Option<String>,
    leader: Option<String>,
    members: BTreeMap<String, Member>,
    /// When the rebalance under way gives up on members that have not rejoined.
    deadline: Option<Instant>,
    offsets: HashMap<(String, i32), (i64, Option<String>)>,
}

impl Group {
    fn new() -> Group {
        Group {
            state: State::Empty,
            generation: 0,
            protocol_type: String::new(),
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            deadline: None,
            offsets: HashMap::new(),
        }
    }

    /// Removes members whose session expired; a removal starts a rebalance.
    fn expire(&mut self, now: Instant) {
        let before = self.members.len();
        self.members.retain(|_, m| now.duration_since(m.last_seen) <= m.session_timeout);
        if self.members.len() != before {
            self.member_left(now);
        }
    }

    fn member_left(&mut self, now: Instant) {
        if self.leader.as_ref().is_some_and(|l| !self.members.contains_key(l)) {
            self.leader = None;
        }
        if self.members.is_empty() {
            self.state = State::Empty;
            self.deadline = None;
        } else if self.state != State::PreparingRebalance {
            self.prepare(now, Duration::from_secs(10));
        } else {
            self.try_complete(now);
        }
    }

    fn prepare(&mut self, now: Instant, timeout: Duration) {
        self.state = State::PreparingRebalance;
        self.deadline = Some(now + timeout.min(MAX_WAIT));
        for member in self.members.values_mut() {
            member.joined = false;
        }
    }

    /// Completes the rebalance once every member rejoined, or drops the laggards at the
    /// deadline. Returns whether it completed.
    fn try_complete(&mut self, now: Instant) -> bool {
        if self.state != State::PreparingRebalance {
            return false;
        }
        let all = self.members.values().all(|m| m.joined);
        if !all && self.deadline.is_some_and(|d| now < d) {
            return false;
        }
        self.members.retain(|_, m| m.joined);
        if self.members.is_empty() {
            self.state = State::Empty;
            self.leader = None;
            return true;
        }
        self.generation += 1;
        if self.leader.as_ref().is_none_or(|l| !self.members.contains_key(l)) {
            self.leader = self.members.keys().next().cloned();
        }
        self.protocol = self.choose_protocol();
        for member in self.members.values_mut() {
            member.assignment = Bytes::new();
        }
        self.state = State::CompletingRebalance;
        self.deadline = None;
        true
    }

    /// The leader's first protocol that every member supports.
    fn choose_protocol(&self) -> Option<String> {
        let leader = self.members.get(self.leader.as_ref()?)?;
        leader
            .protocols
            .iter()
            .map(|(name, _)| name)
            .find(|name| self.members.values().all(|m| m.protocols.iter().any(|(n, _)| n == *name)))
            .cloned()
    }
}

/// A JoinGroup request, as the coordinator needs it.
pub(crate) struct Join {
    pub group: String,
    pub member_id: String,
    pub client_id: String,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
}

/// A JoinGroup answer.
pub(crate) struct Joined {
    pub generation: i32,
    pub protocol_type: String,
    pub protocol: String,
    pub leader: String,
    pub member_id: String,
    /// Every member's metadata for the chosen protocol (the leader's answer only).
    pub members: Vec<(String, Bytes)>,
}

pub(crate) struct Coordinator {
    groups: Mutex<HashMap<String, Group>>,
    changed: Notify,
    next_member: AtomicU64,
}

impl Coordinator {
    pub(crate) fn new() -> Coordinator {
        Coordinator { groups: Mutex::new(HashMap::new()), changed: Notify::new(), next_member: AtomicU64::new(1) }
    }

    fn with_group<T>(&self, group: &str, f: impl FnOnce(&mut Group) -> T) -> T {
        let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        let group = groups.entry(group.to_owned()).or_insert_with(Group::new);
        group.expire(Instant::now());
        f(group)
    }

    /// Joins (or starts) a rebalance and waits for it to complete.
    pub(crate) async fn join(&self, join: Join) -> Result<Joined, Code> {
        if join.group.is_empty() {
            return Err(INVALID_GROUP_ID);
        }
        let now = Instant::now();
        let member_id = if join.member_id.is_empty() {
            let n = self.next_member.fetch_add(1, Ordering::Relaxed);
            format!("{}-{n}", if join.client_id.is_empty() { "member" } else { &join.client_id })
        } else {
            join.member_id.clone()
        };
        self.with_group(&join.group, |group| {
            if !join.member_id.is_empty() && !group.members.contains_key(&member_id) {
                return Err(UNKNOWN_MEMBER_ID);
            }
            if group.state != State::Empty && group.protocol_type != join.protocol_type {
                return Err(INCONSISTENT_GROUP_PROTOCOL);
            }
            if group.state != State::PreparingRebalance {
                group.prepare(now, join.rebalance_timeout);
            }
            group.protocol_type = join.protocol_type.clone();
            group.members.insert(
                member_id.clone(),
                Member {
                    protocols: join.protocols.clone(),
                    session_timeout: join.session_timeout,
                    last_seen: now,
                    joined: true,
                    assignment: Bytes::new(),
                },
            );
            if group.try_complete(now) {
                self.changed.notify_waiters();
            }
            Ok(())
        })?;
        let give_up = now + join.rebalance_timeout.min(MAX_WAIT) + Duration::from_secs(1);
        loop {
            let notified = self.changed.notified();
            let outcome = self.with_group(&join.group, |group| {
                let now = Instant::now();
                if group.try_complete(now) {
                    self.changed.notify_waiters();
                }
                if !group.members.contains_key(&member_id) {
                    return Some(Err(UNKNOWN_MEMBER_ID));
                }
                if group.state == State::PreparingRebalance {
                    return None;
                }
                let protocol = group.protocol.clone().unwrap_or_default();
                let leader = group.leader.clone().unwrap_or_default();
                let members = if leader == member_id {
                    group
                        .members
                        .iter()
                        .map(|(id, m)| {
                            let metadata = m
                                .protocols
                                .iter()
                                .find(|(n, _)| *n == protocol)
                                .map(|(_, b)| b.clone())
                                .unwrap_or_default();
                            (id.clone(), metadata)
                        })
                        .collect()
                } else {
                    Vec::new()
                };
                Some(Ok(Joined {
                    generation: group.generation,
                    protocol_type: group.protocol_type.clone(),
                    protocol,
                    leader,
                    member_id: member_id.clone(),
                    members,
                }))
            });
            if let Some(outcome) = outcome {
                return outcome;
            }
            let now = Instant::now();
            if now >= give_up {
                return Err(REBALANCE_IN_PROGRESS);
            }
            // Wake at the group's deadline even if nobody else touches the group.
            let _ = tokio::time::timeout((give_up - now).min(Duration::from_millis(250)), notified).await;
        }
    }

    /// SyncGroup: the leader's assignments are stored; every member gets its own once they are.
    pub(crate) async fn sync(
        &self,
        group_id: &str,
        generation: i32,
        member_id: &str,
        assignments: Vec<(String, Bytes)>,
    ) -> Result<(String, String, Bytes), Code> {
        let give_up = Instant::now() + MAX_WAIT;
        let mut first = true;
        loop {
            let notified = self.changed.notified();
            let outcome = self.with_group(group_id, |group| {
                let Some(member) = group.members.get_mut(member_id) else { return Some(Err(UNKNOWN_MEMBER_ID)) };
                member.last_seen = Instant::now();
                if generation != group.generation {
                    return Some(Err(ILLEGAL_GENERATION));
                }
                match group.state {
                    State::PreparingRebalance | State::Empty => return Some(Err(REBALANCE_IN_PROGRESS)),
                    State::CompletingRebalance if first && group.leader.as_deref() == Some(member_id) => {
                        for (id, assignment) in &assignments {
                            if let Some(m) = group.members.get_mut(id) {
                                m.assignment = assignment.clone();
                            }
                        }
                        group.state = State::Stable;
                        self.changed.notify_waiters();
                    }
                    State::CompletingRebalance => return None,
                    State::Stable => {}
                }
                let assignment = group.members.get(member_id).map(|m| m.assignment.clone()).unwrap_or_default();
                Some(Ok((group.protocol_type.clone(), group.protocol.clone().unwrap_or_default(), assignment)))
            });
            first = false;
            if let Some(outcome) = outcome {
                return outcome;
            }
            let now = Instant::now();
            if now >= give_up {
                return Err(REBALANCE_IN_PROGRESS);
            }
            let _ = tokio::time::timeout((give_up - now).min(Duration::from_millis(250)), notified).await;
        }
    }

    pub(crate) fn heartbeat(&self, group_id: &str, generation: i32, member_id: &str) -> Code {
        self.with_group(group_id, |group| {
            let Some(member) = group.members.get_mut(member_id) else { return UNKNOWN_MEMBER_ID };
            member.last_seen = Instant::now();
            if group.try_complete(Instant::now()) {
                self.changed.notify_waiters();
            }
            match group.state {
                State::PreparingRebalance => REBALANCE_IN_PROGRESS,
                _ if generation != group.generation => ILLEGAL_GENERATION,
                _ => 0,
            }
        })
    }

    /// Removes members; each gets its own error code (unknown members `UNKNOWN_MEMBER_ID`).
    pub(crate) fn leave(&self, group_id: &str, members: &[String]) -> Vec<Code> {
        let codes = self.with_group(group_id, |group| {
            let codes: Vec<Code> =
                members.iter().map(|m| if group.members.remove(m).is_some() { 0 } else { UNKNOWN_MEMBER_ID }).collect();
            if codes.contains(&0) {
                group.member_left(Instant::now());
            }
            codes
        });
        self.changed.notify_waiters();
        codes
    }

    /// Checks a commit's member and generation (a generation of -1 is a simple commit from
    /// outside the group) and stores the offsets.
    pub(crate) fn commit(
        &self,
        group_id: &str,
        generation: i32,
        member_id: &str,
        offsets: Vec<(String, i32, i64, Option<String>)>,
    ) -> Code {
        self.with_group(group_id, |group| {
            if generation >= 0 || !member_id.is_empty() {
                let Some(member) = group.members.get_mut(member_id) else { return UNKNOWN_MEMBER_ID };
                member.last_seen = Instant::now();
                if generation != group.generation {
                    return ILLEGAL_GENERATION;
                }
            }
            for (topic, partition, offset, metadata) in offsets {
                group.offsets.insert((topic, partition), (offset, metadata));
            }
            0
        })
    }

    /// The committed offset of a partition, or -1.
    pub(crate) fn committed(&self, group_id: &str, topic: &str, partition: i32) -> (i64, Option<String>) {
        self.with_group(group_id, |group| {
            group.offsets.get(&(topic.to_owned(), partition)).cloned().unwrap_or((-1, None))
        })
    }

    /// Every partition with a committed offset in a group.
    pub(crate) fn committed_all(&self, group_id: &str) -> Vec<(String, i32, i64, Option<String>)> {
        self.with_group(group_id, |group| {
            let mut all: Vec<_> = group.offsets.iter().map(|((t, p), (o, m))| (t.clone(), *p, *o, m.clone())).collect();
            all.sort();
            all
        })
    }
}
