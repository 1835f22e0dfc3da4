//! Never freeing a node under a walker.
//!
//! A walker (a cancel walk, a reaper, an exiting parent) may still be
//! standing on a child that was just unlinked. Walkers count themselves in
//! the `readers` of the list they traverse. Whoever drops the list's (or an
//! exiting child's) reference checks `readers` after unlinking: zero means no
//! walker can reach the node, so it is freed; else the reference is parked on
//! the parent's `retired` stack, which the last walker to leave (or the
//! releaser, re-checking) drains. Nothing ever waits.

use crate::loom::atomic::{Ordering::SeqCst, fence};
use crate::node::Node;
use std::ptr;
use std::sync::Arc;

impl Node {
    /// Drops one strong reference (`Arc::into_raw`) to an unlinked child —
    /// unless a walker may still stand on it: then the reference waits on
    /// `retired` for the last walker to leave.
    pub(crate) fn release_child(&self, child: *const Node) {
        // Dekker with `begin_reading`: our detach before our `readers` read.
        fence(SeqCst);
        if self.readers.load(SeqCst) == 0 {
            // SAFETY: the caller passes a reference it owns.
            drop(unsafe { Arc::from_raw(child) });
            return;
        }
        let raw = child.cast_mut();
        // SAFETY: the child is alive while we own a reference to it.
        unsafe { self.push_retired(raw, raw) };
        // The walker we saw may have left before our push: then nobody else
        // would drain.
        fence(SeqCst);
        if self.readers.load(SeqCst) == 0 {
            self.drain_retired();
        }
    }

    /// Pushes the chain `first ..= last` (linked by `retired_next`) on
    /// `retired`.
    ///
    /// # Safety
    ///
    /// The chain's nodes are owned references (`Arc::into_raw`) we give up.
    unsafe fn push_retired(&self, first: *mut Node, last: *mut Node) {
        let mut head = self.retired.load(SeqCst);
        loop {
            // SAFETY: `last` is alive: we own a reference to it.
            unsafe { (*last).retired_next.store(head, SeqCst) };
            match self.retired.compare_exchange(head, first, SeqCst, SeqCst) {
                Ok(_) => return,
                Err(actual) => head = actual,
            }
        }
    }

    /// Frees the retired children once no walker can stand on them. Called
    /// by the last walker to leave and by a releaser that saw none.
    pub(crate) fn drain_retired(&self) {
        loop {
            let first = self.retired.swap(ptr::null_mut(), SeqCst);
            if first.is_null() {
                return;
            }
            // Every node of the chain was detached before it was pushed, so
            // a walker that can stand on one entered before that and is still
            // counted. (A walker that took the count to 0 and then came here
            // may find a newer walker in: then the chain goes back.)
            fence(SeqCst);
            if self.readers.load(SeqCst) == 0 {
                let mut node = first;
                while !node.is_null() {
                    // SAFETY: every pointer on `retired` came from
                    // `Arc::into_raw`, and the swap gave us the whole chain.
                    let arc = unsafe { Arc::from_raw(node) };
                    node = arc.retired_next.load(SeqCst);
                    drop(arc);
                }
                return;
            }
            let mut last = first;
            // SAFETY: we own the chain (from the swap); its nodes are alive.
            while let Some(next) = ptr::NonNull::new(unsafe { (*last).retired_next.load(SeqCst) }) {
                last = next.as_ptr();
            }
            // SAFETY: we own the chain and give it back.
            unsafe { self.push_retired(first, last) };
            fence(SeqCst);
            if self.readers.load(SeqCst) != 0 {
                return; // that walker drains when it leaves
            }
        }
    }
}
