/// Did-you-mean suggestions for mistyped option, command and choice names.
public enum Suggestions {
    /// Returns the candidates close enough to `input` to suggest, best first.
    ///
    /// Closeness is the optimal-string-alignment edit distance (insertions,
    /// deletions, substitutions and swaps of neighbours each cost 1) between
    /// the normalized names, so `--setps` finds `--steps`. A candidate is kept
    /// if the distance is below the input's length and at most 1 for inputs
    /// of up to 4 characters, 2 up to 8, and 3 beyond. A candidate that starts
    /// with an input of 3 or more characters is kept whatever the distance,
    /// so `--guidance` finds `--guidance-scale`. Ties are broken by prefix
    /// match first, then alphabetically.
    public static func ranked(_ input: String, among candidates: [String]) -> [String] {
        let wanted = normalizedName(input)
        let limit = wanted.count <= 4 ? 1 : (wanted.count <= 8 ? 2 : 3)

        var scored: [(candidate: String, distance: Int, isPrefix: Bool)] = []
        for candidate in Set(candidates) {
            let normalized = normalizedName(candidate)
            let distance = editDistance(wanted, normalized)
            let isPrefix = wanted.count >= 3 && normalized.hasPrefix(wanted)
            if isPrefix || (distance <= limit && distance < wanted.count) {
                scored.append((candidate, distance, isPrefix))
            }
        }

        scored.sort { a, b in
            if a.distance != b.distance { return a.distance < b.distance }
            if a.isPrefix != b.isPrefix { return a.isPrefix }
            return a.candidate < b.candidate
        }
        return scored.map(\.candidate)
    }

    /// Optimal-string-alignment distance between two strings, counted in
    /// Unicode scalars.
    public static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.unicodeScalars), b = Array(b.unicodeScalars)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }

        // distance[i][j]: cost of turning the first i scalars of a into the
        // first j scalars of b.
        var distance = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { distance[i][0] = i }
        for j in 0...b.count { distance[0][j] = j }

        for i in 1...a.count {
            for j in 1...b.count {
                let substitution = a[i - 1] == b[j - 1] ? 0 : 1
                var best = min(distance[i - 1][j] + 1, distance[i][j - 1] + 1, distance[i - 1][j - 1] + substitution)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    best = min(best, distance[i - 2][j - 2] + 1)
                }
                distance[i][j] = best
            }
        }
        return distance[a.count][b.count]
    }
}
