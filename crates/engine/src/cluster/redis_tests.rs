//! Tests of the Redis bus's parts that need no Redis (cluster/redis.rs).

use super::*;

#[test]
fn merged_publishes_come_apart_in_order() {
    let mut merge = Merge::default();
    let mut pipe = redis::pipe();
    merge.add(&mut pipe, "t".into(), Bytes::from_static(b"c{1}"));
    merge.add(&mut pipe, "t".into(), Bytes::from_static(b""));
    merge.add(&mut pipe, "t".into(), Bytes::from_static(b"c{3}"));
    assert_eq!(merge.messages.len(), 3);
    let merged = merge.merged();
    assert_eq!(merged.len(), 1 + 3 * 4 + 8, "M, three lengths, eight bytes");
    assert_eq!(unmerge(&merged), vec![&b"c{1}"[..], b"", b"c{3}"]);
    // What `flush` sends: one PUBLISH of that payload.
    merge.flush(&mut pipe);
    let sent = String::from_utf8_lossy(&pipe.get_packed_pipeline()).into_owned();
    assert_eq!(sent.matches("PUBLISH").count(), 1);
    assert!(sent.contains(&*String::from_utf8_lossy(&merged)), "{sent:?}");
    // Another channel starts a new run; a single message goes as it is.
    merge.add(&mut pipe, "u".into(), Bytes::from_static(b"d"));
    assert_eq!(merge.messages, vec![Bytes::from_static(b"d")]);
    assert_eq!(unmerge(b"d{}"), vec![&b"d{}"[..]]);
    // A cut-off payload gives what is whole, and never panics.
    assert_eq!(unmerge(&merged[..merged.len() - 2]), vec![&b"c{1}"[..], b""]);
    assert_eq!(unmerge(&[MERGED, 0, 0]), Vec::<&[u8]>::new());
}

#[test]
fn merges_stay_under_their_size() {
    let mut merge = Merge::default();
    let mut pipe = redis::pipe();
    for _ in 0..100 {
        merge.add(&mut pipe, "t".into(), Bytes::from(vec![b'c'; 1000]));
        assert!(merge.merged().len() <= MERGE_BYTES);
    }
}

/// Counts the tidy's runs on the reader's thread.
static TIDIED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn count_on_reader() {
    if std::thread::current().name() == Some("piazza-pubsub") {
        TIDIED.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn the_tidy_runs_on_the_readers_thread_until_the_bus_closes() {
    set_reader_tidy(count_on_reader);
    let (close, closed) = watch::channel(false);
    let reader = reader_thread(closed);
    assert_ne!(reader.id(), tokio::runtime::Handle::current().id(), "a runtime of its own");
    let ran = |n| async move {
        for _ in 0..40 {
            if TIDIED.load(Ordering::SeqCst) >= n {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    };
    assert!(ran(2).await, "the tidy runs every second on the reader's thread");
    close.send(true).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = TIDIED.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(TIDIED.load(Ordering::SeqCst), after, "the thread ended with the bus");
}
