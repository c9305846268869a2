using System.Text.RegularExpressions;
using Appliance.Core.Console;
using FsCheck;
using FsCheck.Fluent;

namespace Appliance.Core.Tests.Console;

/// <summary>`compare`'s unified diff: diff -u's format, and a patch made of it turns the old text into the new one.</summary>
public class LineDiffTests
{
    [Fact]
    public void A_changed_line_is_a_hunk_with_three_lines_of_context()
    {
        string a = string.Join("", Enumerable.Range(1, 10).Select(i => $"l{i}\n"));
        string b = a.Replace("l5\n", "L5\n", StringComparison.Ordinal);
        Assert.Equal("""
            --- old
            +++ new
            @@ -2,7 +2,7 @@
             l2
             l3
             l4
            -l5
            +L5
             l6
             l7
             l8

            """, LineDiff.Unified(a, b, "old", "new"));
    }

    [Fact]
    public void Equal_texts_have_no_diff_and_an_insertion_at_the_top_says_where()
    {
        Assert.Equal("", LineDiff.Unified("a\nb\n", "a\nb\n", "o", "n"));
        Assert.Equal("--- o\n+++ n\n@@ -0,0 +1 @@\n+x\n", LineDiff.Unified("", "x\n", "o", "n"));
        Assert.Equal("--- o\n+++ n\n@@ -1,2 +1,3 @@\n+z\n a\n b\n", LineDiff.Unified("a\nb\n", "z\na\nb\n", "o", "n"));
    }

    [Fact]
    public void Applying_the_diff_to_the_old_text_gives_the_new_one()
    {
        var lines = Gen.Elements("a", "b", "c", "d", "e").ListOf();
        Prop.ForAll(Arb.From(Gen.Zip(lines, lines)), pair =>
        {
            string a = string.Join("", pair.Item1.Select(l => l + "\n"));
            string b = string.Join("", pair.Item2.Select(l => l + "\n"));
            string diff = LineDiff.Unified(a, b, "o", "n");
            return Patch(a, diff) == b && (diff.Length == 0) == (a == b);
        }).Check(FsCheck.Config.QuickThrowOnFailure.WithMaxTest(3000));
    }

    /// <summary>Applies a unified diff the simple way: hunks in order, context and deletions checked.</summary>
    private static string Patch(string text, string diff)
    {
        var old = text.Length == 0 ? new List<string>() : text.TrimEnd('\n').Split('\n').ToList();
        if (diff.Length == 0)
            return text;
        var output = new List<string>();
        int at = 0;
        var lines = diff.TrimEnd('\n').Split('\n').Skip(2).ToList();
        for (int i = 0; i < lines.Count; i++)
        {
            var m = Regex.Match(lines[i], @"^@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@$");
            Assert.True(m.Success, lines[i]);
            int start = int.Parse(m.Groups[1].Value);
            int count = m.Groups[2].Success ? int.Parse(m.Groups[2].Value) : 1;
            int from = count == 0 ? start : start - 1;
            while (at < from)
                output.Add(old[at++]);
            while (i + 1 < lines.Count && !lines[i + 1].StartsWith("@@", StringComparison.Ordinal))
            {
                string l = lines[++i];
                switch (l[0])
                {
                    case ' ': Assert.Equal(old[at], l[1..]); output.Add(old[at++]); break;
                    case '-': Assert.Equal(old[at], l[1..]); at++; break;
                    case '+': output.Add(l[1..]); break;
                }
            }
        }
        while (at < old.Count)
            output.Add(old[at++]);
        return string.Join("", output.Select(l => l + "\n"));
    }
}
