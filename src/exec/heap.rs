//! Heap bytes owned by a plan's parts (kernels' vectors of leaves, regions and shapes), so
//! [`super::task::Plan::own_bytes`] counts what a plan holds rather than a guess per task.

use crate::chunks::Region;
use std::ops::Range;

/// Heap bytes a value owns beyond its own `size_of` (what its vectors hold).
pub(crate) trait HeapBytes {
    /// Heap bytes owned, recursively; 0 for plain values.
    fn heap_bytes(&self) -> usize;
}

impl HeapBytes for usize {
    fn heap_bytes(&self) -> usize {
        0
    }
}

impl HeapBytes for Range<usize> {
    fn heap_bytes(&self) -> usize {
        0
    }
}

impl HeapBytes for Region {
    fn heap_bytes(&self) -> usize {
        self.0.heap_bytes()
    }
}

impl<T: HeapBytes> HeapBytes for Vec<T> {
    fn heap_bytes(&self) -> usize {
        self.capacity() * std::mem::size_of::<T>() + self.iter().map(T::heap_bytes).sum::<usize>()
    }
}

impl<T: HeapBytes> HeapBytes for Option<T> {
    fn heap_bytes(&self) -> usize {
        self.as_ref().map_or(0, T::heap_bytes)
    }
}

impl<A: HeapBytes, B: HeapBytes, C: HeapBytes> HeapBytes for (A, B, C) {
    fn heap_bytes(&self) -> usize {
        self.0.heap_bytes() + self.1.heap_bytes() + self.2.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_count_their_capacity_and_their_items_heap() {
        let v: Vec<usize> = Vec::with_capacity(4);
        assert_eq!(v.heap_bytes(), 4 * 8);
        let r = Region(vec![0..2, 0..3]);
        assert_eq!(r.heap_bytes(), 2 * std::mem::size_of::<Range<usize>>());
        let rs = vec![r.clone(), r];
        assert_eq!(
            rs.heap_bytes(),
            2 * std::mem::size_of::<Region>() + 4 * std::mem::size_of::<Range<usize>>()
        );
        assert_eq!(Some(vec![1usize]).heap_bytes(), 8);
        assert_eq!(None::<Vec<usize>>.heap_bytes(), 0);
    }
}
