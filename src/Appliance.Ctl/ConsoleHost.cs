using System.Runtime.InteropServices;
using System.Text;
using Appliance.Core.Console;
using Appliance.Linux.Serial;

namespace Appliance.Ctl;

/// <summary>
/// `appliancectl console` (and `appliance-console`): the console shell on this terminal. On a tty
/// (a serial console after login, a pty): character mode, the line editor, completion, help and the
/// pager, for a dumb 80x24 terminal (LINES and COLUMNS change that). With stdin not a terminal it runs
/// the lines it is given, printing what a person would have seen (each prompt and line, then the
/// output); it stops at the first line that fails and exits with that line's code (1 refused or
/// failed, 2 bad usage or input), so a piped change is never committed past a mistake.
/// </summary>
internal static class ConsoleHost
{
    private const string Banner = "appliance console on {0}: `help` or '?' lists the commands, Tab completes, `exit` leaves";

    public static int Run(string control)
    {
        var backend = ControlBackend.Connect(control, out string error);
        if (backend is null)
        {
            Console.Error.WriteLine($"appliance-console: {error}");
            return ConsoleExit.Refused;
        }
        var shell = new ConsoleShell(backend);
        return TerminalMode.IsTerminal(0) ? Interactive(shell, backend.Node) : Piped(shell);
    }

    // ---- piped ---------------------------------------------------------------------------------

    private static int Piped(ConsoleShell shell)
    {
        var output = Console.Out;
        using var input = new StreamReader(Console.OpenStandardInput(), new UTF8Encoding(false));
        while (true)
        {
            string? line = ReadBoundedLine(input, out bool tooLong);
            if (line is null)
                break;
            output.Write(shell.Prompt + line + "\n");
            ShellResult r = tooLong
                ? new ShellResult($"error: the line is longer than {CommandLine.MaxLineChars} characters\n", ConsoleExit.BadInput)
                : shell.Run(line);
            output.Write(r.Output);
            output.Flush();
            if (r.Exit != ConsoleExit.Ok)
            {
                output.Write($"stopped: the line above failed (exit {r.Exit}); the rest of the input was not run\n");
                output.Write(shell.EndOfInput().Output);
                output.Flush();
                return r.Exit;
            }
            if (r.Ended)
                return ConsoleExit.Ok;
        }
        output.Write(shell.EndOfInput().Output);
        output.Flush();
        return ConsoleExit.Ok;
    }

    /// <summary>A line of at most <see cref="CommandLine.MaxLineChars"/> characters; the rest of a longer one is read and dropped.</summary>
    private static string? ReadBoundedLine(StreamReader input, out bool tooLong)
    {
        tooLong = false;
        var sb = new StringBuilder();
        int c;
        while ((c = input.Read()) >= 0)
        {
            if (c == '\n')
                return sb.ToString().TrimEnd('\r');
            if (sb.Length < CommandLine.MaxLineChars + 1)
                sb.Append((char)c);
            else
                tooLong = true;
        }
        return sb.Length == 0 && c < 0 ? null : sb.ToString().TrimEnd('\r');
    }

    // ---- on a terminal ---------------------------------------------------------------------------

    private static int Interactive(ConsoleShell shell, string node)
    {
        int rows = Env("LINES", 24, 5, 500);
        int columns = Env("COLUMNS", 80, 20, 500);
        using var mode = TerminalMode.Enter(0);
        // A console killed or hung up leaves the terminal as it found it (what it can).
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, _ => mode.Dispose());
        using var hup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, _ => mode.Dispose());
        // The descriptors themselves, not System.Console's streams: on a terminal those do their own
        // line editing and echo (and set the terminal's mode for it), which would undo ours.
        using var stdin = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(0, ownsHandle: false), FileAccess.Read, 1);
        using var stdout = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(1, ownsHandle: false), FileAccess.Write, 1);
        var editor = new LineEditor(columns);
        Pager? pager = null;

        void Write(string text)
        {
            if (text.Length == 0)
                return;
            // One line ending everywhere on the wire: CR LF (output processing is off).
            byte[] bytes = Encoding.UTF8.GetBytes(text.Replace("\r\n", "\n", StringComparison.Ordinal).Replace("\n", "\r\n", StringComparison.Ordinal));
            stdout.Write(bytes);
            stdout.Flush();
        }

        void Drain(StringBuilder sb)
        {
            Write(sb.ToString());
            sb.Clear();
        }

        // Output that fits is written; longer output goes through the pager, and the prompt waits for it.
        bool Show(string text)
        {
            var p = new Pager(text, rows, columns);
            p.Start();
            Drain(p.Output);
            if (p.Done)
                return true;
            pager = p;
            return false;
        }

        Write(string.Format(System.Globalization.CultureInfo.InvariantCulture, Banner, node) + "\n");
        editor.Begin(shell.Prompt);
        Drain(editor.Output);
        var buffer = new byte[256];
        while (true)
        {
            int n;
            try
            {
                n = stdin.Read(buffer);
            }
            catch (IOException)
            {
                n = 0; // EIO: the terminal hung up
            }
            if (n <= 0)
            {
                shell.EndOfInput(); // hung up: nothing uncommitted is kept, nothing more is said
                return ConsoleExit.Ok;
            }
            for (int i = 0; i < n; i++)
            {
                byte b = buffer[i];
                if (pager is not null)
                {
                    pager.Key(b);
                    Drain(pager.Output);
                    if (pager.Done)
                    {
                        pager = null;
                        editor.Begin(shell.Prompt);
                        Drain(editor.Output);
                    }
                    continue;
                }
                var ev = editor.Feed(b);
                Drain(editor.Output);
                switch (ev)
                {
                    case EditorEvent.Submit:
                    {
                        var r = shell.Run(editor.Submitted);
                        bool done = Show(r.Output);
                        if (r.Ended)
                            return ConsoleExit.Ok;
                        if (done)
                        {
                            editor.Begin(shell.Prompt);
                            Drain(editor.Output);
                        }
                        break;
                    }
                    case EditorEvent.Interrupt:
                        if (shell.Asking)
                            Show(shell.Run("").Output); // ^C answers no
                        editor.Begin(shell.Prompt);
                        Drain(editor.Output);
                        break;
                    case EditorEvent.EndOfInput:
                    {
                        var r = shell.EndOfInput();
                        Write(r.Output);
                        return ConsoleExit.Ok;
                    }
                    case EditorEvent.Complete:
                        Complete(shell, editor, columns, Write);
                        Drain(editor.Output);
                        break;
                    case EditorEvent.Help:
                        Write("?\n" + shell.Help(editor.Line[..editor.Cursor]));
                        editor.Redraw();
                        Drain(editor.Output);
                        break;
                }
            }
        }
    }

    private static void Complete(ConsoleShell shell, LineEditor editor, int columns, Action<string> write)
    {
        var c = shell.Complete(editor.Line[..editor.Cursor]);
        if (c.Matches.Count == 0)
        {
            write("\a");
            return;
        }
        if (c.Matches.Count == 1)
        {
            editor.Replace(c.ReplaceFrom, CommandLine.QuoteIfNeeded(c.Matches[0]) + " ");
            return;
        }
        string prefix = c.CommonPrefix;
        if (prefix.Length > c.Partial.Length)
        {
            editor.Replace(c.ReplaceFrom, prefix);
            return;
        }
        write("\n" + c.Columns(columns));
        editor.Redraw();
    }

    private static int Env(string name, int fallback, int min, int max) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), out int v) && v >= min && v <= max ? v : fallback;
}
