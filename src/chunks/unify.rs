use super::AxisChunks;
use crate::error::{Error, Result};

/// The common refinement of two chunkings of the same axis: every boundary of either.
///
/// Each block of the result lies inside one block of `a` and one block of `b`, so both
/// operands can be brought to it by cutting blocks, never by merging them.
pub fn unify_axis(a: &AxisChunks, b: &AxisChunks) -> AxisChunks {
    if a == b {
        return a.clone();
    }
    let (oa, ob) = (a.offsets(), b.offsets());
    let mut out = Vec::with_capacity(oa.len() + ob.len());
    let (mut i, mut j) = (0, 0);
    while i < oa.len() || j < ob.len() {
        let next = match (oa.get(i), ob.get(j)) {
            (Some(&x), Some(&y)) => x.min(y),
            (Some(&x), None) => x,
            (None, Some(&y)) => y,
            (None, None) => break,
        };
        if out.last() != Some(&next) {
            out.push(next);
        }
        if oa.get(i) == Some(&next) {
            i += 1;
        }
        if ob.get(j) == Some(&next) {
            j += 1;
        }
    }
    let sizes: Vec<usize> = out.windows(2).map(|w| w[1] - w[0]).collect();
    AxisChunks::from_sizes(&sizes)
}

/// The NumPy broadcast of two shapes (aligned at the last axis; a length of 1 stretches).
///
/// # Errors
/// [`Error::Broadcast`] naming both shapes and the first incompatible axis.
pub fn broadcast_shapes(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return Err(Error::Broadcast {
                op,
                lhs: a.to_vec(),
                rhs: b.to_vec(),
                axis: i,
                a: da,
                b: db,
            });
        };
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn broadcasting() {
        assert_eq!(broadcast_shapes("t", &[3, 1], &[4]).unwrap(), vec![3, 4]);
        assert_eq!(broadcast_shapes("t", &[], &[2, 2]).unwrap(), vec![2, 2]);
        assert_eq!(broadcast_shapes("t", &[0, 1], &[1, 5]).unwrap(), vec![0, 5]);
        assert!(matches!(
            broadcast_shapes("add", &[3, 2], &[4, 2]),
            Err(Error::Broadcast {
                axis: 0,
                a: 3,
                b: 4,
                ..
            })
        ));
    }

    proptest! {
        #[test]
        fn refinement_cuts_both(a in prop::collection::vec(1usize..5, 1..6), b0 in prop::collection::vec(1usize..5, 1..12)) {
            let len: usize = a.iter().sum();
            // Make b sum to len as well.
            let mut b = Vec::new();
            let mut acc = 0;
            for s in b0.iter().cycle() {
                if acc >= len { break; }
                let s = (*s).min(len - acc);
                b.push(s);
                acc += s;
            }
            let (ca, cb) = (AxisChunks::from_sizes(&a), AxisChunks::from_sizes(&b));
            let u = unify_axis(&ca, &cb);
            prop_assert_eq!(u.len(), len);
            for k in 0..u.nblocks() {
                let r = u.range(k);
                prop_assert_eq!(ca.blocks_overlapping(r.clone()).len(), 1);
                prop_assert_eq!(cb.blocks_overlapping(r).len(), 1);
            }
        }
    }
}
