using System.Globalization;
using System.Text;

namespace NativeAdaBelief.Bindings;

/// <summary>A small line diff (LCS) in unified style, for the check mode's message.</summary>
internal static class TextDiff
{
    public static string Unified(string expectedName, string expected, string actualName, string actual,
        int context = 3, int maxLines = 80)
    {
        string[] a = SplitLines(actual);   // on disk
        string[] b = SplitLines(expected); // freshly generated
        // LCS table over lines (the files are a few hundred lines).
        var lcs = new int[a.Length + 1][];
        for (int i = 0; i <= a.Length; i++) lcs[i] = new int[b.Length + 1];
        for (int i = a.Length - 1; i >= 0; i--)
        {
            for (int j = b.Length - 1; j >= 0; j--)
            {
                lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : Math.Max(lcs[i + 1][j], lcs[i][j + 1]);
            }
        }

        var ops = new List<(char Op, string Text, int LineA, int LineB)>();
        int x = 0, y = 0;
        while (x < a.Length || y < b.Length)
        {
            if (x < a.Length && y < b.Length && a[x] == b[y]) { ops.Add((' ', a[x], x, y)); x++; y++; }
            else if (x < a.Length && (y == b.Length || lcs[x + 1][y] >= lcs[x][y + 1])) { ops.Add(('-', a[x], x, y)); x++; }
            else { ops.Add(('+', b[y], x, y)); y++; }
        }

        var text = new StringBuilder();
        text.Append("--- ").Append(actualName).Append('\n');
        text.Append("+++ ").Append(expectedName).Append('\n');
        int written = 0, omitted = 0;
        int k = 0;
        while (k < ops.Count)
        {
            if (ops[k].Op == ' ') { k++; continue; }
            int start = Math.Max(0, k - context);
            int end = k;
            // Extend the hunk while changes are within 2*context lines of each other.
            while (true)
            {
                while (end < ops.Count && ops[end].Op != ' ') end++;
                int next = end;
                while (next < ops.Count && ops[next].Op == ' ' && next - end < 2 * context) next++;
                if (next < ops.Count && ops[next].Op != ' ') { end = next; continue; }
                end = Math.Min(ops.Count, end + context);
                break;
            }
            int aLen = ops.Skip(start).Take(end - start).Count(o => o.Op != '+');
            int bLen = ops.Skip(start).Take(end - start).Count(o => o.Op != '-');
            string header = string.Create(CultureInfo.InvariantCulture,
                $"@@ -{ops[start].LineA + 1},{aLen} +{ops[start].LineB + 1},{bLen} @@");
            if (written < maxLines) { text.Append(header).Append('\n'); written++; }
            for (int i = start; i < end; i++)
            {
                if (written < maxLines) { text.Append(ops[i].Op).Append(ops[i].Text).Append('\n'); written++; }
                else omitted++;
            }
            k = end;
        }
        if (omitted > 0) text.Append(CultureInfo.InvariantCulture, $"... ({omitted} more diff lines)\n");
        return text.ToString();
    }

    private static string[] SplitLines(string s)
    {
        if (s.Length == 0) return Array.Empty<string>();
        if (s.EndsWith('\n')) s = s.Substring(0, s.Length - 1);
        return s.Split('\n');
    }
}
