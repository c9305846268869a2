using System.Text;
using Appliance.Core.Console;
using FsCheck;
using FsCheck.Fluent;

namespace Appliance.Core.Tests.Console;

/// <summary>
/// The line editor fed bytes as a serial terminal sends them: editing keys, history, and line noise
/// that must never turn into text or a command nobody typed.
/// </summary>
public class LineEditorTests
{
    private static (LineEditor Editor, List<EditorEvent> Events) Type(string bytes, LineEditor? editor = null, int width = 80)
    {
        editor ??= new LineEditor(width);
        if (editor.Prompt.Length == 0)
            editor.Begin("alpha> ");
        var events = new List<EditorEvent>();
        foreach (char c in bytes)
        {
            var e = editor.Feed((byte)c);
            if (e != EditorEvent.None)
                events.Add(e);
        }
        return (editor, events);
    }

    /// <summary>What a terminal would show on the line after all the output: CR, BS and printable characters played out.</summary>
    private static string Screen(string output)
    {
        var line = new StringBuilder();
        int col = 0;
        foreach (char c in output)
        {
            switch (c)
            {
                case '\r': col = 0; break;
                case '\n': line.Clear(); col = 0; break;
                case '\b': col = Math.Max(0, col - 1); break;
                case '\a': break;
                default:
                    Assert.InRange(c, ' ', '~'); // nothing else is ever written
                    if (col < line.Length) line[col] = c; else line.Append(c);
                    col++;
                    break;
            }
        }
        return line.ToString().TrimEnd();
    }

    [Fact]
    public void Typing_and_enter_submit_the_line()
    {
        var (e, events) = Type("show status\r");
        Assert.Equal([EditorEvent.Submit], events);
        Assert.Equal("show status", e.Submitted);
        Assert.EndsWith("\r\n", e.Output.ToString());
    }

    [Fact]
    public void Cr_lf_is_one_enter_and_a_bare_lf_is_one_too()
    {
        var (e, events) = Type("a\r\n");
        Assert.Equal([EditorEvent.Submit], events);
        e.Begin("> ");
        var more = Type("b\n", e).Events;
        Assert.Equal([EditorEvent.Submit], more);
        Assert.Equal("b", e.Submitted);
    }

    [Fact]
    public void Editing_keys_change_the_line_and_the_screen_shows_it()
    {
        // "shw" <- "o" ^E " status"; then a word removed with ^W at the end.
        var (e, _) = Type("shw\x1b[Do\x05 status");
        Assert.Equal("show status", e.Line);
        Assert.Equal("alpha> show status", Screen(e.Output.ToString()));
        Type("\x17", e);
        Assert.Equal("show ", e.Line);
        Type("\x01\x0b", e); // ^A ^K
        Assert.Equal("", e.Line);
        Type("abc\x08\x7f", e);
        Assert.Equal("a", e.Line);
        Type("bc\x02\x02\x1b[3~", e); // delete under the cursor
        Assert.Equal("ac", e.Line);
        Type("\x15", e); // ^U: everything before the cursor
        Assert.Equal("c", e.Line);
        Assert.Equal("alpha> c", Screen(e.Output.ToString()));
    }

    [Fact]
    public void Up_and_down_walk_the_history_and_keep_the_draft()
    {
        var e = new LineEditor();
        foreach (string line in new[] { "one", "two" })
        {
            e.Begin("> ");
            Type(line + "\r", e);
        }
        e.Begin("> ");
        Type("dra", e);
        Type("\x1b[A", e);
        Assert.Equal("two", e.Line);
        Type("\x1bOA", e); // SS3 up, as some terminals send it
        Assert.Equal("one", e.Line);
        Type("\x1b[A", e); // no further back
        Assert.Equal("one", e.Line);
        Type("\x1b[B\x1b[B", e);
        Assert.Equal("dra", e.Line);
        Assert.Equal("> dra", Screen(e.Output.ToString()));
    }

    [Fact]
    public void Control_c_drops_the_line_and_control_d_ends_only_an_empty_one()
    {
        var (e, events) = Type("commit\x03");
        Assert.Equal([EditorEvent.Interrupt], events);
        e.Begin("> ");
        Assert.Equal([], Type("ab\x02\x04", e).Events); // ^D deletes under the cursor
        Assert.Equal("a", e.Line);
        e.Begin("> ");
        Assert.Equal([EditorEvent.EndOfInput], Type("\x04", e).Events);
    }

    [Fact]
    public void Tab_and_question_mark_ask_the_host_but_a_quoted_question_mark_is_text()
    {
        var (e, events) = Type("sh\t?");
        Assert.Equal([EditorEvent.Complete, EditorEvent.Help], events);
        Assert.Equal("sh", e.Line);
        Type(" \"a?", e);
        Assert.Equal("sh \"a?", e.Line);
        e.Replace(2, "ow");
        Assert.Equal("show", e.Line); // the text from 3 to the cursor replaced, as a completion does
    }

    [Fact]
    public void A_long_line_scrolls_sideways_within_the_screen()
    {
        string text = string.Concat(Enumerable.Range(0, 30).Select(i => $"word{i} "));
        var (e, _) = Type(text, width: 40);
        Assert.Equal(text, e.Line);
        string screen = Screen(e.Output.ToString());
        Assert.True(screen.Length <= 39, screen);
        Assert.EndsWith("word29", screen);
        Type("\x01", e);
        Assert.StartsWith("alpha> word0 word1", Screen(e.Output.ToString()));
    }

    [Fact]
    public void The_line_is_bounded()
    {
        var (e, _) = Type(new string('x', CommandLine.MaxLineChars + 50));
        Assert.Equal(CommandLine.MaxLineChars, e.Line.Length);
        Assert.Contains('\a', e.Output.ToString());
    }

    [Fact]
    public void Noise_never_becomes_text_or_a_command()
    {
        // Control bytes, bytes above 0x7e, broken and unknown escape sequences: none of it lands in the line.
        string noise = "\x00\x07\x0f\x11\x12\x13\x14\x16\x18\x19\x1a\x1c\x1f\x80\x9b\xc3\xa9\xfe\xff" +
            "\x1b[99;99;99;99;99;99;99z\x1b[\x12\x1bx\x1b[1;5C\x1b[200~\x1bO\x19\x1b[M\x1b\x1b[12;34R";
        var (e, events) = Type("sh" + noise + "ow");
        Assert.Equal("show", e.Line);
        Assert.Empty(events);
    }

    [Fact]
    public void Random_noise_without_enter_submits_nothing_and_writes_only_what_a_dumb_terminal_takes()
    {
        Prop.ForAll(ArbMap.Default.ArbFor<byte[]>(), bytes =>
        {
            var e = new LineEditor(40);
            e.Begin("> ");
            foreach (byte b in bytes ?? [])
            {
                if (b is (byte)'\r' or (byte)'\n' or 0x03 or 0x04)
                    continue; // the keys that end a line are the only way out
                Assert.Contains(e.Feed(b), new[] { EditorEvent.None, EditorEvent.Complete, EditorEvent.Help });
            }
            Screen(e.Output.ToString()); // asserts the written characters
            return e.Line.All(c => c is >= ' ' and <= '~') && e.Line.Length <= CommandLine.MaxLineChars;
        }).Check(FsCheck.Config.QuickThrowOnFailure.WithMaxTest(1000));
    }
}
