extension RandomAccessCollection {
    /// The index of the first element for which `isBefore` is false, in a collection where every element satisfying
    /// `isBefore` comes before every element that does not (a binary search).
    /// - Complexity: O(log n) calls of `isBefore`.
    func partitionPoint(_ isBefore: (Element) throws -> Bool) rethrows -> Index {
        var low = startIndex
        var count = self.count
        while count > 0 {
            let half = count / 2
            let middle = index(low, offsetBy: half)
            if try isBefore(self[middle]) {
                low = index(after: middle)
                count -= half + 1
            } else {
                count = half
            }
        }
        return low
    }
}
