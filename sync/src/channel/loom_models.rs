//! Loom models of the channel's hand-off protocol (`core.rs`): send, recv
//! and close racing; a receive cancelled while a sender hands it a value; a
//! send cancelled while a receiver takes its value; a dropped receive passing
//! its value on. Each checks that every value ends in exactly one place.
//!
//! The cancelled path is driven through `poll_decided` with a stand-in
//! cancellation (`()`): the scope tree is loom-checked in `canopy-scope`,
//! and what matters here is what the channel does once a waiter has
//! decided it is cancelled.

use super::recv::RecvWait;
use super::send::SendFailed;
use super::{TryRecvError, channel};
use loom::future::block_on;
use loom::thread;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

fn noop_cx() -> Context<'static> {
    Context::from_waker(Waker::noop())
}

#[test]
fn loom_send_recv_and_close_race_every_value_ends_in_one_place() {
    loom::model(|| {
        let (tx, rx) = channel::<u8>(1);
        let closer = tx.clone();
        let sender = thread::spawn(move || {
            let mut returned = Vec::new();
            for v in [1, 2] {
                if let Err(e) = block_on(tx.send(v)) {
                    returned.push(e.into_inner());
                }
            }
            returned
        });
        let closing = thread::spawn(move || {
            closer.close();
        });
        let mut received = Vec::new();
        while let Some(v) = block_on(rx.recv()).unwrap() {
            received.push(v);
        }
        closing.join().unwrap();
        let mut all = sender.join().unwrap();
        all.extend(&received);
        all.sort();
        assert_eq!(all, [1, 2], "received {received:?}");
    });
}

#[test]
fn loom_recv_cancelled_while_a_sender_hands_it_a_value() {
    loom::model(|| {
        let (tx, rx) = channel::<u8>(1);
        let sender = thread::spawn(move || tx.try_send(7).is_ok());
        let mut wait = RecvWait::default();
        let mut cx = noop_cx();
        let first = wait.poll_decided(&rx.chan, &mut cx, Ok::<(), ()>(()));
        let got = match first {
            Poll::Ready(Ok(v)) => v,
            Poll::Ready(Err(())) => unreachable!("not cancelled"),
            Poll::Pending => match wait.poll_decided(&rx.chan, &mut cx, Err(())) {
                Poll::Ready(Ok(v)) => v, // handed first: stands
                Poll::Ready(Err(())) => None,
                Poll::Pending => unreachable!("a cancelled poll is ready"),
            },
        };
        assert!(sender.join().unwrap());
        let left = rx.try_recv().ok();
        assert_eq!(
            got.into_iter().chain(left).collect::<Vec<_>>(),
            [7],
            "exactly once"
        );
        assert_eq!(
            rx.try_recv(),
            Err(TryRecvError::Closed),
            "the sender is gone"
        );
    });
}

#[test]
fn loom_send_cancelled_while_a_receiver_takes_its_value() {
    loom::model(|| {
        let (tx, rx) = channel::<u8>(0);
        let _open = rx.clone(); // the channel stays open throughout
        let receiver = thread::spawn(move || rx.try_recv().ok());
        let mut send = pin!(tx.send(5));
        let mut cx = noop_cx();
        let returned = match send.poll_decided(&mut cx, Ok::<(), ()>(())) {
            Poll::Ready(Ok(())) => None,
            Poll::Ready(Err(_)) => unreachable!("neither closed nor cancelled"),
            Poll::Pending => match send.poll_decided(&mut cx, Err(())) {
                Poll::Ready(Ok(())) => None, // taken first: stands
                Poll::Ready(Err(SendFailed::Cancelled(v, ()))) => Some(v),
                Poll::Ready(Err(SendFailed::Closed(_))) => unreachable!("not closed"),
                Poll::Pending => unreachable!("a cancelled poll is ready"),
            },
        };
        let received = receiver.join().unwrap();
        assert_eq!(
            received.into_iter().chain(returned).collect::<Vec<_>>(),
            [5],
            "exactly once"
        );
    });
}

#[test]
fn loom_a_dropped_recv_passes_its_value_on() {
    loom::model(|| {
        let (tx, rx) = channel::<u8>(1);
        let sender = thread::spawn(move || tx.try_send(3).is_ok());
        let mut got = None;
        {
            let mut recv = pin!(rx.recv());
            if let Poll::Ready(Ok(v)) = recv.as_mut().poll(&mut noop_cx()) {
                got = v;
            }
            // Dropped here, possibly after a value was handed to it.
        }
        assert!(sender.join().unwrap());
        let left = rx.try_recv().ok();
        assert_eq!(got.into_iter().chain(left).collect::<Vec<_>>(), [3]);
    });
}

#[test]
fn loom_close_races_a_waiting_receiver_and_a_send() {
    loom::model(|| {
        let (tx, rx) = channel::<u8>(1);
        let closer = tx.clone();
        let receiver = thread::spawn(move || block_on(rx.recv()).unwrap());
        let closing = thread::spawn(move || {
            closer.close();
        });
        let sent = tx.try_send(9).is_ok();
        closing.join().unwrap();
        let got = receiver.join().unwrap();
        // Either the send came first and the receiver got the value (from
        // its hands or by draining the buffer), or the close came first and
        // the send failed: never both, never neither.
        assert_eq!(sent, got == Some(9), "sent {sent}, received {got:?}");
    });
}
