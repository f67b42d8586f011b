using System.Text;

namespace NativeAdaBelief.Bindings;

/// <summary>Turns the header's C comments into plain text lines.</summary>
/// <remarks>
/// clang decides which comment belongs to which declaration (with -fparse-all-comments it
/// attaches ordinary comments, not only Doxygen ones, as FullComment nodes); the text itself is
/// read from the header bytes at the FullComment's offsets, so no Doxygen command parsing can
/// alter it. Decorations are removed: the comment markers, a leading "* " on continuation
/// lines, surrounding blank lines and trailing whitespace.
/// </remarks>
internal static class Comments
{
    /// <summary>The text of the comment whose content starts at <paramref name="beginOffset"/>
    /// (clang's FullComment range begin) in <paramref name="source"/>.</summary>
    /// <remarks>
    /// clang attaches a comment to the next declaration when the text between them holds none of
    /// ";{}#@", so an undocumented enumerator inherits the comment of the one before it (only a
    /// comma lies between). When <paramref name="declBegin"/> is known the comment is therefore
    /// accepted only if the text between its end and the declaration holds no ',', ';', '{', '}',
    /// '#', '@' and no blank line (a comment followed by a blank line introduces a section, it
    /// does not document the next declaration). Rejected comments give null.
    /// </remarks>
    public static IReadOnlyList<string>? FromOffset(byte[] source, long beginOffset, long endOffset, long? declBegin)
    {
        int begin = checked((int)beginOffset);
        if (begin < 2 || begin > source.Length)
        {
            throw new GeneratorException($"comment offset {beginOffset} is outside the header");
        }

        // The comment marker is the nearest "/*" or "//" at or before the content start.
        int marker = -1;
        for (int i = begin - 2; i >= 0; i--)
        {
            if (source[i] == (byte)'/' && (source[i + 1] == (byte)'*' || source[i + 1] == (byte)'/'))
            {
                marker = i;
                break;
            }
        }
        if (marker < 0)
        {
            throw new GeneratorException($"no comment marker before offset {beginOffset}");
        }

        if (source[marker + 1] == (byte)'*')
        {
            int close = IndexOf(source, "*/"u8, marker + 2);
            if (close < 0) throw new GeneratorException($"unterminated comment at offset {marker}");
            if (!AttachesTo(source, close + 2, declBegin)) return null;
            string body = Decode(source, marker + 2, close);
            if (body.StartsWith('*') || body.StartsWith('!')) body = body.Substring(1); // /** or /*!
            return CleanBlock(body);
        }

        // A run of line comments, merged by clang: up to the end of the line holding endOffset.
        int end = (int)Math.Min(Math.Max(endOffset, beginOffset), source.Length);
        while (end < source.Length && source[end] != (byte)'\n') end++;
        if (!AttachesTo(source, end, declBegin)) return null;
        var lines = new List<string>();
        foreach (string raw in Decode(source, marker, end).Split('\n'))
        {
            string line = raw.Trim();
            if (line.StartsWith("//", StringComparison.Ordinal)) line = line.Substring(2);
            if (line.StartsWith('/') || line.StartsWith('!')) line = line.Substring(1);
            lines.Add(line.Trim());
        }
        return Tidy(lines);
    }

    /// <summary>The block or line comment that ends right before <paramref name="index"/>
    /// (only whitespace between), or an empty list. <paramref name="text"/> uses \n endings.</summary>
    public static IReadOnlyList<string> Preceding(string text, int index)
    {
        int end = index;
        while (end > 0 && char.IsWhiteSpace(text[end - 1])) end--;
        if (end >= 2 && text[end - 2] == '*' && text[end - 1] == '/')
        {
            int open = text.LastIndexOf("/*", end - 2, StringComparison.Ordinal);
            if (open < 0) return Array.Empty<string>();
            string body = text.Substring(open + 2, end - 2 - (open + 2));
            if (body.StartsWith('*') || body.StartsWith('!')) body = body.Substring(1);
            return CleanBlock(body);
        }

        var lines = new List<string>();
        int lineEnd = end;
        while (lineEnd > 0)
        {
            int lineStart = text.LastIndexOf('\n', lineEnd - 1) + 1;
            string line = text.Substring(lineStart, lineEnd - lineStart).Trim();
            if (!line.StartsWith("//", StringComparison.Ordinal)) break;
            line = line.Substring(2);
            if (line.StartsWith('/') || line.StartsWith('!')) line = line.Substring(1);
            lines.Insert(0, line.Trim());
            lineEnd = lineStart - 1;
            if (lineEnd < 0) break;
        }
        return Tidy(lines);
    }

    private static List<string> CleanBlock(string body)
    {
        string[] raw = body.Split('\n');
        var lines = new List<string>(raw.Length);
        for (int i = 0; i < raw.Length; i++)
        {
            string line = raw[i].Trim();
            if (i > 0)
            {
                if (line == "*") line = "";
                else if (line.StartsWith("* ", StringComparison.Ordinal)) line = line.Substring(2).Trim();
            }
            lines.Add(line);
        }
        return Tidy(lines);
    }

    private static List<string> Tidy(List<string> lines)
    {
        int first = 0, last = lines.Count - 1;
        while (first <= last && lines[first].Length == 0) first++;
        while (last >= first && lines[last].Length == 0) last--;
        var result = new List<string>();
        for (int i = first; i <= last; i++)
        {
            // Collapse runs of blank lines into one paragraph break.
            if (lines[i].Length == 0 && result.Count > 0 && result[^1].Length == 0) continue;
            result.Add(lines[i]);
        }
        return result;
    }

    private static bool AttachesTo(byte[] source, int commentEnd, long? declBegin)
    {
        if (declBegin is not long begin) return true;
        if (begin < commentEnd || begin > source.Length) return false; // a trailing comment
        string between = Decode(source, commentEnd, (int)begin);
        if (between.IndexOfAny([',', ';', '{', '}', '#', '@']) >= 0) return false;
        // A blank line: an inner line (neither the comment's nor the declaration's) that is empty.
        string[] lines = between.Split('\n');
        for (int i = 1; i < lines.Length - 1; i++)
        {
            if (lines[i].Trim().Length == 0) return false;
        }
        return true;
    }

    private static string Decode(byte[] source, int start, int end) =>
        Encoding.UTF8.GetString(source, start, end - start).Replace("\r\n", "\n").Replace('\r', '\n');

    private static int IndexOf(byte[] source, ReadOnlySpan<byte> value, int start)
    {
        int i = source.AsSpan(start).IndexOf(value);
        return i < 0 ? -1 : start + i;
    }
}
