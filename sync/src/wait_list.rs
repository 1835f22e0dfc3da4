//! A FIFO list of waiters whose nodes live in a slab, so a waiter is found by
//! its key in O(1) and can leave from the middle of the queue (a cancelled or
//! dropped waiter) without a scan.
//!
//! Every primitive keeps one (or two) of these inside its own lock; nothing
//! here is concurrent. A node stays in the slab after it is *unlinked* from
//! the queue: that is how a waker hands a waiter its outcome (an item, a
//! permit, "closed") — it unlinks the node, writes the outcome into it and
//! wakes its waker. The waiter's future then *removes* the node when it next
//! runs, or when it is dropped (and passes on whatever it was handed).
//!
//! Invariants: `head`/`tail` are `NIL` iff no node is linked; a linked node's
//! `prev`/`next` name linked nodes (or `NIL` at the ends); `len` counts the
//! linked nodes. Unlinked nodes have `prev == next == NIL` and `linked ==
//! false`.

use slab::Slab;

const NIL: usize = usize::MAX;

struct Node<W> {
    prev: usize,
    next: usize,
    linked: bool,
    waiter: W,
}

pub(crate) struct WaitList<W> {
    nodes: Slab<Node<W>>,
    head: usize,
    tail: usize,
    len: usize,
}

impl<W> WaitList<W> {
    pub(crate) fn new() -> Self {
        WaitList {
            nodes: Slab::new(),
            head: NIL,
            tail: NIL,
            len: 0,
        }
    }

    /// Whether no waiter is queued (handed-off nodes do not count).
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.head == NIL
    }

    /// How many waiters are queued.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Queues a waiter at the back; returns its key.
    pub(crate) fn push_back(&mut self, waiter: W) -> usize {
        let key = self.nodes.insert(Node {
            prev: self.tail,
            next: NIL,
            linked: true,
            waiter,
        });
        if self.tail == NIL {
            self.head = key;
        } else {
            self.nodes[self.tail].next = key;
        }
        self.tail = key;
        self.len += 1;
        key
    }

    /// The key of the first queued waiter.
    #[inline]
    pub(crate) fn front(&self) -> Option<usize> {
        (self.head != NIL).then_some(self.head)
    }

    /// Takes the first waiter out of the queue, leaving its node in the slab
    /// for the waiter to collect; returns its key.
    pub(crate) fn unlink_front(&mut self) -> Option<usize> {
        let key = self.front()?;
        self.unlink(key);
        Some(key)
    }

    /// Takes the node out of the queue (no-op if it is not queued).
    pub(crate) fn unlink(&mut self, key: usize) {
        let node = &mut self.nodes[key];
        if !node.linked {
            return;
        }
        let (prev, next) = (node.prev, node.next);
        node.linked = false;
        node.prev = NIL;
        node.next = NIL;
        if prev == NIL {
            self.head = next;
        } else {
            self.nodes[prev].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.nodes[next].prev = prev;
        }
        self.len -= 1;
    }

    /// Whether the node is still queued (not yet handed its outcome).
    #[inline]
    pub(crate) fn is_linked(&self, key: usize) -> bool {
        self.nodes[key].linked
    }

    /// Removes the node (unlinking it first if queued) and returns its waiter.
    pub(crate) fn remove(&mut self, key: usize) -> W {
        self.unlink(key);
        self.nodes.remove(key).waiter
    }

    #[cfg(test)]
    pub(crate) fn get(&self, key: usize) -> &W {
        &self.nodes[key].waiter
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, key: usize) -> &mut W {
        &mut self.nodes[key].waiter
    }

    /// Unlinks every queued waiter, front to back, calling `f` on each.
    pub(crate) fn drain_with(&mut self, mut f: impl FnMut(&mut W)) {
        while let Some(key) = self.unlink_front() {
            f(&mut self.nodes[key].waiter);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::WaitList;

    #[test]
    fn fifo_order_and_removal_from_the_middle() {
        let mut list = WaitList::new();
        let a = list.push_back('a');
        let b = list.push_back('b');
        let c = list.push_back('c');
        assert_eq!(list.len(), 3);
        assert_eq!(list.remove(b), 'b');
        assert_eq!(list.unlink_front(), Some(a));
        assert!(!list.is_linked(a));
        assert_eq!(*list.get(a), 'a');
        assert_eq!(list.front(), Some(c));
        list.unlink(c);
        assert!(list.is_empty());
        assert_eq!(list.remove(a), 'a');
        assert_eq!(list.remove(c), 'c');
        let d = list.push_back('d');
        assert_eq!(list.front(), Some(d));
        let mut seen = Vec::new();
        list.drain_with(|w| seen.push(*w));
        assert_eq!(seen, ['d']);
        assert!(list.is_empty());
    }
}
