//! Fallible work on all cores, in order: the CSR checks and the signing of a
//! `cert issue` batch, the profile checks of `gateway trust-store` and of
//! `TrustStore::load`.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Threads for CPU-bound work: one per core this process may run on
/// (`available_parallelism` honours the CPU affinity mask, so a run pinned
/// with `taskset -c 0` gets one).
pub(crate) fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Applies `f` to every item on up to `threads` scoped threads, each taking
/// one contiguous chunk of `items`, and returns the results in the order of
/// `items`.
///
/// On failure the error is the one of the *first* failing item in `items`
/// order, exactly as a sequential loop would report it: workers skip the items
/// after a failure already found, and the chunks are joined in order.
/// `panicked` makes the error for a worker that panicked (which the item
/// functions of this crate are written never to do).
pub(crate) fn try_map_ordered<T, R, E, F>(
    items: &[T],
    threads: usize,
    f: F,
    panicked: impl Fn() -> E,
) -> Result<Vec<R>, E>
where
    T: Sync,
    R: Send,
    E: Send,
    F: Fn(&T) -> Result<R, E> + Sync,
{
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        return items.iter().map(&f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    // Index of the first failure found so far (usize::MAX: none).
    let first_failure = AtomicUsize::new(usize::MAX);
    let parts: Vec<Result<Vec<R>, E>> = std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .enumerate()
            .map(|(n, part)| {
                let (f, first_failure) = (&f, &first_failure);
                s.spawn(move || {
                    let mut out = Vec::with_capacity(part.len());
                    for (k, item) in part.iter().enumerate() {
                        let index = n * chunk + k;
                        if index > first_failure.load(Ordering::Relaxed) {
                            // An earlier item failed: its chunk reports it.
                            break;
                        }
                        match f(item) {
                            Ok(r) => out.push(r),
                            Err(e) => {
                                first_failure.fetch_min(index, Ordering::Relaxed);
                                return Err(e);
                            }
                        }
                    }
                    Ok(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(panicked())))
            .collect()
    });
    let mut out = Vec::with_capacity(items.len());
    for part in parts {
        // A chunk that stopped early comes after the chunk holding the
        // failure that stopped it, so this returns before reaching it.
        out.extend(part?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    #[test]
    fn results_keep_the_order_of_the_items() {
        let items: Vec<u32> = (0..1000).collect();
        for threads in [1, 2, 3, 7, 16, 2000] {
            let out = try_map_ordered(&items, threads, |x| Ok::<_, ()>(x * 2), || ()).unwrap();
            assert_eq!(out, items.iter().map(|x| x * 2).collect::<Vec<_>>());
        }
        let none: Vec<u32> = Vec::new();
        assert!(try_map_ordered(&none, 4, |x| Ok::<_, ()>(*x), || ())
            .unwrap()
            .is_empty());
    }

    #[test]
    fn the_first_failure_in_item_order_is_reported() {
        let items: Vec<u32> = (0..1000).collect();
        for threads in [1, 2, 3, 8] {
            // Failures in several chunks: the lowest index wins, whichever
            // thread finds its failure first.
            let calls = AtomicU32::new(0);
            let r = try_map_ordered(
                &items,
                threads,
                |&x| {
                    calls.fetch_add(1, Ordering::Relaxed);
                    if x == 999 || x == 501 || x == 502 || (x == 17 && threads > 1) {
                        Err(x)
                    } else {
                        Ok(x)
                    }
                },
                || u32::MAX,
            );
            let expected = if threads > 1 { 17 } else { 501 };
            assert_eq!(r, Err(expected), "{threads} threads");
            assert!(calls.load(Ordering::Relaxed) <= 1000);
        }
    }

    #[test]
    fn a_panicking_worker_is_an_error_not_a_panic() {
        let items: Vec<u32> = (0..100).collect();
        let r = try_map_ordered(
            &items,
            4,
            |&x| {
                if x == 60 {
                    panic!("worker panic (expected by this test)");
                }
                Ok(x)
            },
            || "panicked",
        );
        assert_eq!(r, Err("panicked"));
    }
}
