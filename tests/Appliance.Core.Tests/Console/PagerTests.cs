using Appliance.Core.Console;

namespace Appliance.Core.Tests.Console;

/// <summary>The pager on an 80x24 terminal: a screenful less the prompt line, then space, enter and q.</summary>
public class PagerTests
{
    private static string Lines(int n) => string.Join("", Enumerable.Range(1, n).Select(i => $"line {i}\n"));

    [Fact]
    public void Output_that_fits_is_written_whole_without_a_prompt()
    {
        var p = new Pager(Lines(23));
        p.Start();
        Assert.True(p.Done);
        Assert.Equal(Lines(23), p.Output.ToString());
    }

    [Fact]
    public void Longer_output_stops_at_23_lines_and_space_enter_and_q_go_on()
    {
        var p = new Pager(Lines(60));
        p.Start();
        Assert.False(p.Done);
        Assert.Equal(Lines(23) + Pager.MorePrompt, p.Output.ToString());
        p.Output.Clear();
        p.Key((byte)'x'); // not a pager key: nothing happens
        Assert.Equal("", p.Output.ToString());
        p.Key((byte)'\r');
        Assert.StartsWith("\r" + new string(' ', Pager.MorePrompt.Length) + "\rline 24\n" + Pager.MorePrompt, p.Output.ToString());
        p.Output.Clear();
        p.Key((byte)' ');
        Assert.Contains("line 25\n", p.Output.ToString());
        Assert.Contains("line 47\n", p.Output.ToString());
        Assert.DoesNotContain("line 48\n", p.Output.ToString());
        p.Output.Clear();
        p.Key((byte)'q');
        Assert.True(p.Done);
        Assert.DoesNotContain("line", p.Output.ToString());
    }

    [Fact]
    public void A_wide_line_counts_as_the_rows_it_wraps_to()
    {
        var p = new Pager(new string('x', 800) + "\n" + Lines(20));
        p.Start();
        Assert.False(p.Done); // 10 rows + 20 lines > 23
        Assert.Contains("line 13\n", p.Output.ToString());
        Assert.DoesNotContain("line 14\n", p.Output.ToString());
    }
}
