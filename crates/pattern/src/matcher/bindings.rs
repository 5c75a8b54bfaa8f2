//! Observation expressions: the reference's lazy search for "bindings", ported step for
//! step so that it finds the same first binding, does the same (bounded) work, and fails
//! in the same cases.
//!
//! An observed-data with `number_observed: n` stands for `n` instances; a binding assigns
//! instances to the observation expressions of the pattern, each instance at most once.
//! The reference builds a generator of bindings per node of the pattern (`exitObservation
//! Expression*`) and takes the first one the root yields; which one comes first depends
//! on the order in which those generators pull from each other, and errors (a `WITHIN`
//! window past the year 9999, an inverted observation interval, a non-integer
//! `number_observed`) surface only for the bindings actually examined. Each generator is
//! a state machine here; a failure is recorded in the shared context, after which every
//! stream ends.

use std::cell::RefCell;
use std::rc::Rc;

use super::compile::ONode;
use super::input::{Count, Observation};
use super::time::{self, intervals_within, Micros, Relation, WithinError};
use super::MatchError;

/// An instance: observation index and instance number.
pub(crate) type Inst = (u32, u64);

/// A binding without the reference's `None` fillers (they never take part in a
/// decision). Invariant: no instance twice.
pub(crate) type Binding = Rc<[Inst]>;

pub(crate) struct Cx<'o, 'a> {
    obs: &'o [Observation<'a>],
    /// `(first_observed, last_observed)` per observation, packed: the qualifiers read
    /// them for every instance of every binding they check.
    intervals: Vec<(Micros, Micros)>,
    pub(crate) error: RefCell<Option<MatchError>>,
}

impl<'o, 'a> Cx<'o, 'a> {
    pub(crate) fn new(obs: &'o [Observation<'a>]) -> Cx<'o, 'a> {
        Cx { obs, intervals: obs.iter().map(|o| (o.first, o.last)).collect(), error: RefCell::new(None) }
    }

    fn fail(&self, e: MatchError) {
        self.error.borrow_mut().get_or_insert(e);
    }

    fn failed(&self) -> bool {
        self.error.borrow().is_some()
    }

    fn interval(&self, i: Inst) -> (Micros, Micros) {
        self.intervals[i.0 as usize]
    }
}

/// `_disjoint`
fn disjoint(a: &[Inst], b: &[Inst]) -> bool {
    a.iter().all(|x| !b.contains(x))
}

fn concat(a: &[Inst], b: &[Inst]) -> Binding {
    a.iter().chain(b).copied().collect()
}

pub(crate) enum Stream {
    Empty,
    /// `exitObservationExpressionSimple`: every instance of every observation the
    /// comparison expression kept, observation by observation.
    Simple {
        keys: Vec<u32>,
        key: usize,
        inst: u64,
    },
    Join(Box<Join>),
    Or(Box<OrStream>),
    Within {
        inner: Box<Stream>,
        micros: Option<i128>,
    },
    StartStop {
        inner: Box<Stream>,
        start: Micros,
        stop: Micros,
    },
    Repeats(Box<Combinations>),
}

impl Stream {
    /// Builds the stream of a node, making the pulls the reference makes while walking
    /// the tree (`OR` takes the first binding of each side right away).
    pub(crate) fn build(node: &ONode, leaves: &mut Vec<Option<Vec<u32>>>, cx: &Cx<'_, '_>) -> Stream {
        match node {
            ONode::Leaf(i) => Stream::Simple { keys: leaves[*i].take().expect("each leaf once"), key: 0, inst: 0 },
            ONode::And(a, b) | ONode::FollowedBy(a, b) => {
                let lhs = Stream::build(a, leaves, cx);
                let rhs = Stream::build(b, leaves, cx);
                Stream::Join(Box::new(Join::new(lhs, rhs, matches!(node, ONode::FollowedBy(..)))))
            }
            ONode::Or(a, b) => {
                let mut lhs = Stream::build(a, leaves, cx);
                let mut rhs = Stream::build(b, leaves, cx);
                let l = lhs.next(cx);
                let r = rhs.next(cx);
                Stream::Or(Box::new(OrStream { lhs, rhs, l, r, phase: OrPhase::Left }))
            }
            ONode::Within(a, micros) => {
                Stream::Within { inner: Box::new(Stream::build(a, leaves, cx)), micros: *micros }
            }
            ONode::StartStop(a, start, stop) => {
                let inner = Stream::build(a, leaves, cx);
                // Start not before stop: nothing can lie in the window, and the inner
                // generator is never pulled.
                if start < stop {
                    Stream::StartStop { inner: Box::new(inner), start: *start, stop: *stop }
                } else {
                    Stream::Empty
                }
            }
            ONode::Repeats(a, n) => {
                let inner = Stream::build(a, leaves, cx);
                if *n == 1 {
                    inner
                } else {
                    Stream::Repeats(Box::new(Combinations::new(inner, *n)))
                }
            }
        }
    }

    pub(crate) fn next(&mut self, cx: &Cx<'_, '_>) -> Option<Binding> {
        if cx.failed() {
            return None;
        }
        match self {
            Stream::Empty => None,
            Stream::Simple { keys, key, inst } => loop {
                let o = *keys.get(*key)?;
                match cx.obs[o as usize].count {
                    Count::NotInt => {
                        cx.fail(MatchError::ObservedData("number_observed is not an integer".into()));
                        return None;
                    }
                    Count::N(n) if *inst < n => {
                        *inst += 1;
                        return Some(Rc::from([(o, *inst - 1)]));
                    }
                    Count::N(_) => {
                        *key += 1;
                        *inst = 0;
                    }
                }
            },
            Stream::Join(j) => j.next(cx),
            Stream::Or(o) => o.next(cx),
            Stream::Within { inner, micros } => loop {
                let b = inner.next(cx)?;
                match intervals_within(b.iter().map(|&i| cx.interval(i)), *micros) {
                    Ok(true) => return Some(b),
                    Ok(false) => {}
                    Err(e) => {
                        cx.fail(MatchError::Value(match e {
                            WithinError::Overflow => "WITHIN reaches past the year 9999".into(),
                            WithinError::InvertedInterval => {
                                "an observation's last_observed is before its first_observed".into()
                            }
                        }));
                        return None;
                    }
                }
            },
            Stream::StartStop { inner, start, stop } => loop {
                let b = inner.next(cx)?;
                let mut ok = true;
                for &i in b.iter() {
                    let (first, last) = cx.interval(i);
                    match time::overlap(*start, *stop, first, last) {
                        None => {
                            cx.fail(MatchError::Value(
                                "an observation's last_observed is before its first_observed".into(),
                            ));
                            return None;
                        }
                        Some(Relation::Overlap | Relation::TouchOuter) => {}
                        Some(_) => {
                            ok = false;
                            break;
                        }
                    }
                }
                if ok {
                    return Some(b);
                }
            },
            Stream::Repeats(c) => c.next(cx),
        }
    }
}

#[derive(Clone, Copy)]
enum JoinPhase {
    Start,
    /// Pairing the current right binding with cached left ones, from this index.
    Right(usize),
    /// Pairing the current left binding with cached right ones, from this index.
    Left(usize),
    Top,
    Done,
}

/// `AND` and `FOLLOWEDBY` (`exitObservationExpressionAnd`, `exitObservationExpressions`):
/// the two sides are pulled alternately, right first, and each new binding is paired
/// with the cached bindings of the other side.
pub(crate) struct Join {
    lhs: Stream,
    rhs: Stream,
    followed_by: bool,
    lhs_cache: Vec<Binding>,
    rhs_cache: Vec<Binding>,
    next_l: Option<Binding>,
    next_r: Option<Binding>,
    phase: JoinPhase,
}

impl Join {
    fn new(lhs: Stream, rhs: Stream, followed_by: bool) -> Join {
        Join {
            lhs,
            rhs,
            followed_by,
            lhs_cache: Vec::new(),
            rhs_cache: Vec::new(),
            next_l: None,
            next_r: None,
            phase: JoinPhase::Start,
        }
    }

    /// `FOLLOWEDBY`: some choice of instants puts every left one no later than every
    /// right one, i.e. the latest `first_observed` on the left is not after the earliest
    /// `last_observed` on the right.
    fn ordered(&self, cx: &Cx<'_, '_>, l: &[Inst], r: &[Inst]) -> bool {
        let latest_first = l.iter().map(|&i| cx.interval(i).0).max();
        let earliest_last = r.iter().map(|&i| cx.interval(i).1).min();
        latest_first <= earliest_last
    }

    fn pairs(&self, cx: &Cx<'_, '_>, l: &[Inst], r: &[Inst]) -> bool {
        disjoint(l, r) && (!self.followed_by || self.ordered(cx, l, r))
    }

    fn next(&mut self, cx: &Cx<'_, '_>) -> Option<Binding> {
        loop {
            if cx.failed() {
                return None;
            }
            match self.phase {
                JoinPhase::Done => return None,
                JoinPhase::Start => {
                    self.next_r = self.rhs.next(cx);
                    self.next_l = self.lhs.next(cx);
                    if self.next_r.is_none() || self.next_l.is_none() {
                        self.phase = JoinPhase::Done;
                        return None;
                    }
                    self.phase = JoinPhase::Right(0);
                }
                JoinPhase::Top => {
                    self.phase = if self.next_r.is_none() && self.next_l.is_none() {
                        JoinPhase::Done
                    } else {
                        JoinPhase::Right(0)
                    };
                }
                JoinPhase::Right(k) => {
                    let Some(r) = self.next_r.clone() else {
                        self.phase = JoinPhase::Left(0);
                        continue;
                    };
                    if let Some(j) = (k..self.lhs_cache.len()).find(|&j| self.pairs(cx, &self.lhs_cache[j], &r)) {
                        self.phase = JoinPhase::Right(j + 1);
                        return Some(concat(&self.lhs_cache[j], &r));
                    }
                    self.rhs_cache.push(r);
                    self.next_r = self.rhs.next(cx);
                    self.phase = JoinPhase::Left(0);
                }
                JoinPhase::Left(k) => {
                    let Some(l) = self.next_l.clone() else {
                        self.phase = JoinPhase::Top;
                        continue;
                    };
                    if let Some(j) = (k..self.rhs_cache.len()).find(|&j| self.pairs(cx, &l, &self.rhs_cache[j])) {
                        self.phase = JoinPhase::Left(j + 1);
                        return Some(concat(&l, &self.rhs_cache[j]));
                    }
                    self.lhs_cache.push(l);
                    self.next_l = self.lhs.next(cx);
                    self.phase = JoinPhase::Top;
                }
            }
        }
    }
}

#[derive(Clone, Copy)]
enum OrPhase {
    Left,
    AfterLeft,
    Right,
    AfterRight,
}

/// `OR` (`exitObservationExpressionOr`): one binding from each side in turn, each
/// alone (the reference pads the other side with `None`s).
pub(crate) struct OrStream {
    lhs: Stream,
    rhs: Stream,
    l: Option<Binding>,
    r: Option<Binding>,
    phase: OrPhase,
}

impl OrStream {
    fn next(&mut self, cx: &Cx<'_, '_>) -> Option<Binding> {
        loop {
            if cx.failed() {
                return None;
            }
            match self.phase {
                OrPhase::Left => {
                    if self.l.is_none() && self.r.is_none() {
                        return None;
                    }
                    self.phase = OrPhase::AfterLeft;
                    if let Some(b) = self.l.clone() {
                        return Some(b);
                    }
                    self.phase = OrPhase::Right;
                }
                OrPhase::AfterLeft => {
                    self.l = self.lhs.next(cx);
                    self.phase = OrPhase::Right;
                }
                OrPhase::Right => {
                    self.phase = OrPhase::AfterRight;
                    if let Some(b) = self.r.clone() {
                        return Some(b);
                    }
                    self.phase = OrPhase::Left;
                }
                OrPhase::AfterRight => {
                    self.r = self.rhs.next(cx);
                    self.phase = OrPhase::Left;
                }
            }
        }
    }
}

/// `REPEATS n TIMES` with `n > 1` (`_filtered_combinations`): `n`-sized sets of
/// pairwise disjoint bindings, each new binding of the inner stream combined with
/// `n - 1` of the bindings seen before it; each set is flattened into one binding.
pub(crate) struct Combinations {
    inner: Stream,
    size: u64,
    started: bool,
    generated: Vec<Binding>,
    /// The binding being combined, and the combinations of the earlier ones with it.
    current: Option<(Binding, FromList)>,
    buffer: Vec<Inst>,
    /// While at most 128 distinct instances have been seen: their bit numbers, and each
    /// binding of `generated` as a bit set (see [`FromList`]).
    bits: Option<std::collections::HashMap<Inst, u32>>,
    masks: Vec<u128>,
}

impl Combinations {
    fn new(inner: Stream, size: u64) -> Combinations {
        Combinations {
            inner,
            size,
            started: false,
            generated: Vec::new(),
            current: None,
            buffer: Vec::new(),
            bits: Some(std::collections::HashMap::new()),
            masks: Vec::new(),
        }
    }

    /// The bit set of a binding, numbering new instances; `None` (for good) past 128.
    fn mask(&mut self, b: &[Inst]) -> Option<u128> {
        let bits = self.bits.as_mut()?;
        let mut m = 0u128;
        for i in b {
            let next = bits.len() as u32;
            let bit = *bits.entry(*i).or_insert(next);
            if bit >= 128 {
                self.bits = None;
                return None;
            }
            m |= 1 << bit;
        }
        Some(m)
    }

    fn push_generated(&mut self, b: Binding) {
        if let Some(m) = self.mask(&b) {
            self.masks.push(m);
        }
        self.generated.push(b);
    }

    fn next(&mut self, cx: &Cx<'_, '_>) -> Option<Binding> {
        if !self.started {
            self.started = true;
            // `zip(range(combo_size - 1), value_generator)`: stops pulling at the count.
            while (self.generated.len() as u64) < self.size - 1 {
                match self.inner.next(cx) {
                    Some(b) => self.push_generated(b),
                    None => break,
                }
            }
        }
        loop {
            if cx.failed() {
                return None;
            }
            if let Some((value, sub)) = &mut self.current {
                // `Err` is `NotEnoughValues`, which the reference swallows here.
                if let Ok(true) = sub.next() {
                    // Element by element: bindings are short, and a copy call per binding
                    // would cost more than the copying.
                    self.buffer.clear();
                    sub.combination(|b| b.iter().for_each(|&i| self.buffer.push(i)));
                    value.iter().for_each(|&i| self.buffer.push(i));
                    return Some(Rc::from(&self.buffer[..]));
                }
                let (value, _) = self.current.take().expect("current");
                self.push_generated(value);
            }
            let value = self.inner.next(cx)?;
            let sub = match self.mask(&value) {
                Some(m) => {
                    let keep: Vec<usize> = (0..self.generated.len()).filter(|&k| self.masks[k] & m == 0).collect();
                    let list = keep.iter().map(|&k| self.generated[k].clone()).collect();
                    FromList::new(list, Some(keep.iter().map(|&k| self.masks[k]).collect()), self.size - 1)
                }
                None => {
                    let list = self.generated.iter().filter(|c| disjoint(c, &value)).cloned().collect();
                    FromList::new(list, None, self.size - 1)
                }
            };
            self.current = Some((value, sub));
        }
    }
}

/// `NotEnoughValues`: more bindings would be needed (the reference's count of how many
/// matters only inside [`FromList`]).
struct NotEnough;

/// `_filtered_combinations_from_list(list, size)`: the `size`-sized pairwise disjoint
/// combinations of a list, in order, pruned by the reference's bound on how large a
/// combination can be (`_bound_largest_combination`). The reference recurses through
/// generators, one per element chosen; here the recursion is a stack of frames over
/// index lists into the one list, so a combination costs no allocation beyond the
/// frames' index lists. A frame either fails with [`NotEnough`] before yielding, or
/// yields its combinations and ends.
struct FromList {
    list: Vec<Binding>,
    /// Whether no instance occurs in two bindings of `list` (as when `REPEATS` applies
    /// to a single observation). Then every sub-list is too, so no binding is ever
    /// filtered out and the bound is the list's length: frames are ranges of `list`,
    /// found without computing either.
    pairwise_disjoint: bool,
    frames: Vec<Frame>,
    done: bool,
    /// Index lists of popped frames, for reuse: the search creates a frame per prefix
    /// it tries, so allocation would dominate it.
    spare: Vec<Vec<u32>>,
    /// When the list holds at most 128 distinct instances: each binding as a bit set of
    /// them, so that disjointness is one `AND` and the bound needs no sorting.
    masks: Option<Vec<u128>>,
    /// Scratch space for [`bound_largest_combination`] and [`bound_from_masks`].
    scratch: Vec<(Inst, usize)>,
    mask_scratch: Vec<u128>,
}

struct Frame {
    /// This frame's list, as indexes into [`FromList::list`].
    items: Items,
    size: u64,
    started: bool,
    /// The element chosen (`value_list[i]`), or for a frame of size 1 the next one.
    i: usize,
    /// For the child frame of `i` (on the stack above this one while `i` is tried): how
    /// many items it got, and whether it has yielded.
    child_len: usize,
    child_yielded: bool,
}

enum Items {
    List(Vec<u32>),
    /// `start..end`
    Range(u32, u32),
}

impl Items {
    fn len(&self) -> usize {
        match self {
            Items::List(v) => v.len(),
            Items::Range(a, b) => (b - a) as usize,
        }
    }

    fn get(&self, k: usize) -> u32 {
        match self {
            Items::List(v) => v[k],
            Items::Range(a, _) => a + k as u32,
        }
    }
}

/// What a frame tells its parent when it stops.
enum Report {
    Ended,
    NotEnough(i64),
}

impl FromList {
    /// `masks`: the bindings as bit sets, when they fit.
    fn new(list: Vec<Binding>, masks: Option<Vec<u128>>, size: u64) -> FromList {
        let pairwise_disjoint = match &masks {
            Some(m) => m.iter().map(|x| x.count_ones()).sum::<u32>() == m.iter().fold(0, |a, x| a | x).count_ones(),
            None => {
                let mut all: Vec<Inst> = list.iter().flat_map(|b| b.iter().copied()).collect();
                all.sort_unstable();
                all.windows(2).all(|w| w[0] != w[1])
            }
        };
        let items = Items::Range(0, list.len() as u32);
        FromList {
            list,
            pairwise_disjoint,
            frames: vec![Frame::new(items, size)],
            done: false,
            spare: Vec::new(),
            masks,
            scratch: Vec::new(),
            mask_scratch: Vec::new(),
        }
    }

    fn pop(&mut self) {
        if let Items::List(v) = self.frames.pop().expect("a frame").items {
            self.spare.push(v);
        }
    }

    /// Calls `f` with each binding of the combination last yielded, in order.
    fn combination(&self, mut f: impl FnMut(&[Inst])) {
        for frame in &self.frames {
            let at = if frame.size == 1 { frame.i - 1 } else { frame.i };
            f(&self.list[frame.items.get(at) as usize]);
        }
    }

    /// Advances to the next combination: `Ok(true)` when there is one (read it with
    /// [`FromList::combination`]), `Ok(false)` at the end.
    fn next(&mut self) -> Result<bool, NotEnough> {
        if self.done {
            return Ok(false);
        }
        let mut report: Option<Report> = None;
        loop {
            if let Some(r) = report.take() {
                // A frame stopped; the stack top is now its parent, if any.
                let Some(parent) = self.frames.last_mut() else {
                    self.done = true;
                    return match r {
                        Report::NotEnough(_) => Err(NotEnough),
                        Report::Ended => Ok(false),
                    };
                };
                match r {
                    Report::Ended => parent.i += 1,
                    Report::NotEnough(_) if parent.child_yielded => parent.i += 1,
                    Report::NotEnough(missing) => {
                        let removed = parent.items.len() - parent.i - 1 - parent.child_len;
                        let head = &self.list[parent.items.get(parent.i) as usize];
                        let max_add = (removed as i64).min(head.len() as i64);
                        let expected = missing + 1 - max_add;
                        if expected > 0 {
                            let i = parent.i;
                            self.pop();
                            report = Some(if i == 0 { Report::NotEnough(expected) } else { Report::Ended });
                            continue;
                        }
                        parent.i += 1;
                    }
                }
            }
            let top = self.frames.last_mut().expect("a frame");
            if top.size == 1 {
                if top.i < top.items.len() {
                    top.i += 1;
                    let depth = self.frames.len();
                    for f in &mut self.frames[..depth - 1] {
                        f.child_yielded = true;
                    }
                    return Ok(true);
                }
                self.pop();
                report = Some(Report::Ended);
                continue;
            }
            if !top.started {
                top.started = true;
                let bound = if self.pairwise_disjoint {
                    top.items.len() as u64
                } else if let Some(masks) = &self.masks {
                    bound_from_masks(
                        (0..top.items.len()).map(|k| masks[top.items.get(k) as usize]),
                        &mut self.mask_scratch,
                    )
                } else {
                    let list = &self.list;
                    bound_largest_combination(
                        (0..top.items.len()).map(|k| &*list[top.items.get(k) as usize]),
                        &mut self.scratch,
                    )
                };
                if bound < top.size {
                    let missing = (top.size - bound) as i64;
                    self.pop();
                    report = Some(Report::NotEnough(missing));
                    continue;
                }
            }
            let rounds = (top.items.len() as i64 + 1 - top.size as i64).max(0) as usize;
            if top.i >= rounds {
                self.pop();
                report = Some(Report::Ended);
                continue;
            }
            let head_index = top.items.get(top.i);
            let items = match (&top.items, self.pairwise_disjoint) {
                (Items::Range(_, end), true) => Items::Range(head_index + 1, *end),
                (parent, _) => {
                    let mut items = self.spare.pop().unwrap_or_default();
                    items.clear();
                    let rest = (top.i + 1..parent.len()).map(|k| parent.get(k));
                    match &self.masks {
                        Some(m) => items.extend(rest.filter(|&k| m[head_index as usize] & m[k as usize] == 0)),
                        None => {
                            let (list, head) = (&self.list, &self.list[head_index as usize]);
                            items.extend(rest.filter(|&k| disjoint(head, &list[k as usize])));
                        }
                    }
                    Items::List(items)
                }
            };
            top.child_len = items.len();
            top.child_yielded = false;
            let size = top.size - 1;
            self.frames.push(Frame::new(items, size));
        }
    }
}

impl Frame {
    fn new(items: Items, size: u64) -> Frame {
        Frame { items, size, started: false, i: 0, child_len: 0, child_yielded: false }
    }
}

/// [`bound_largest_combination`] for bindings as bit sets of instances.
fn bound_from_masks(masks: impl Iterator<Item = u128>, by_size: &mut Vec<u128>) -> u64 {
    by_size.clear();
    for m in masks {
        let size = m.count_ones() as usize;
        if by_size.len() <= size {
            by_size.resize(size + 1, 0);
        }
        by_size[size] |= m;
    }
    let max_size = by_size.len().saturating_sub(1);
    if max_size == 0 {
        return 0;
    }
    let (mut consumed, mut total) = (0u128, 0u64);
    for (size, &m) in by_size.iter().enumerate().skip(1) {
        let available = u64::from((m & !consumed).count_ones());
        total += if size < max_size { available.div_ceil(size as u64) } else { available / size as u64 };
        consumed |= m;
    }
    total
}

/// `_bound_largest_combination`: an upper bound on the size of a disjoint combination.
/// The reference counts, size by size from the smallest, the instances of bindings of
/// that size not counted before, and adds `ceil(count / size)` (`floor` for the largest
/// size); that is, each instance counts at the smallest size of a binding holding it.
fn bound_largest_combination<'b>(list: impl Iterator<Item = &'b [Inst]>, pairs: &mut Vec<(Inst, usize)>) -> u64 {
    pairs.clear();
    let mut max_size = 0;
    for b in list {
        max_size = max_size.max(b.len());
        pairs.extend(b.iter().map(|&i| (i, b.len())));
    }
    if max_size == 0 {
        return 0;
    }
    pairs.sort_unstable();
    pairs.dedup_by_key(|p| p.0);
    let mut counts = vec![0u64; max_size + 1];
    for &(_, size) in pairs.iter() {
        counts[size] += 1;
    }
    let smaller: u64 = (1..max_size).map(|i| counts[i].div_ceil(i as u64)).sum();
    smaller + counts[max_size] / max_size as u64
}
