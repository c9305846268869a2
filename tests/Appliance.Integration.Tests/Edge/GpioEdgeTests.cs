using System.Device.Gpio;
using Appliance.Core.Board;
using Appliance.Linux.Gpio;
using Iot.Device.Button;
using Microsoft.Win32.SafeHandles;

namespace Appliance.Integration.Tests.Edge;

/// <summary>
/// Edge events of <see cref="BoardGpioDriver"/> on the lab's simulated chip, where a button is a
/// level file written in place (as `lab press` does): press and release as rising and falling
/// edges (active-low applied), contact bounce faster than the debounce as one press of an
/// Iot.Device.Button GpioButton, WaitForEvent, a chip without edge detection sampled instead and
/// said so, a pin closed while watched. The kernel's side (the request asking for edges and
/// debounce, the event record's layout) is in GpioCharacterDeviceTests and GpioAbiTests: this
/// kernel has no GPIO chip.
/// </summary>
public sealed class GpioEdgeTests
{
    private static readonly string[] Names = ["RELAY", "BTN_A", "BTN_B"];

    private static BoardLine Button(SimChip sim, string name, bool activeLow = false) =>
        new(name.ToLowerInvariant(), sim.Chip, name, LineUse.Button, activeLow);

    [Fact]
    public void Press_and_release_are_rising_and_falling_edges_with_active_low_applied()
    {
        using var sim = new SimChip(Names);
        using var b = LevelWriter.Open(sim.LevelPath(2), level: true); // active low: high is released
        using var a = LevelWriter.Open(sim.LevelPath(1), level: false);
        using var controller = new GpioController(new BoardGpioDriver([Button(sim, "BTN_A"), Button(sim, "BTN_B", activeLow: true)], "edge-test",
            TimeSpan.FromMilliseconds(20)));
        controller.OpenPin(0, PinMode.Input);
        controller.OpenPin(1, PinMode.Input);
        var seen = new Recorder();
        PinChangeEventHandler handler = (_, e) => seen.Add($"{e.PinNumber} {e.ChangeType}");
        controller.RegisterCallbackForPinValueChangedEvent(0, PinEventTypes.Rising | PinEventTypes.Falling, handler);
        controller.RegisterCallbackForPinValueChangedEvent(1, PinEventTypes.Rising | PinEventTypes.Falling, (_, e) => seen.Add($"{e.PinNumber} {e.ChangeType}"));

        a.Set(true);
        seen.WaitFor(1);
        a.Set(false);
        seen.WaitFor(2);
        b.Set(false); // pressed
        seen.WaitFor(3);
        b.Set(true);
        seen.WaitFor(4);
        Assert.Equal(["0 Rising", "0 Falling", "1 Rising", "1 Falling"], seen.Items);

        // A pin without callbacks reports nothing; the other carries on. Pin 0's write comes first, so
        // an edge of it would be reported before pin 1's.
        controller.UnregisterCallbackForPinValueChangedEvent(0, handler);
        a.Set(true);
        b.Set(false);
        seen.WaitFor(5);
        Assert.Equal("1 Rising", seen.Items[^1]);
        Assert.Equal(5, seen.Items.Length);
    }

    [Fact]
    public void Bounce_faster_than_the_debounce_is_one_press_of_a_gpio_button()
    {
        using var sim = new SimChip(Names);
        using var a = LevelWriter.Open(sim.LevelPath(1), level: false);
        using var b = LevelWriter.Open(sim.LevelPath(2), level: false);
        // Contact chatter 5 ms apart: slow enough for the event thread to see each write (it reacts
        // in well under a millisecond), far below a debounce long enough that a busy machine
        // descheduling this thread cannot stretch the chatter into a press.
        var debounce = TimeSpan.FromMilliseconds(500);
        using var controller = new GpioController(new BoardGpioDriver([Button(sim, "BTN_A"), Button(sim, "BTN_B")], "edge-test", debounce));
        var seen = new Recorder();
        using var button = new GpioButton(0, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(2), isPullUp: false, hasExternalResistor: true,
            gpio: controller, shouldDispose: false, debounceTime: TimeSpan.Zero);
        button.ButtonDown += (_, _) => seen.Add("down");
        button.ButtonUp += (_, _) => seen.Add("up");
        button.Press += (_, _) => seen.Add("press");
        using var sentinel = new GpioButton(1, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(2), isPullUp: false, hasExternalResistor: true,
            gpio: controller, shouldDispose: false, debounceTime: TimeSpan.Zero);
        sentinel.ButtonDown += (_, _) => seen.Add("sentinel");

        foreach (bool level in (bool[])[true, false, true, false, true, false, true]) // make: chatter, then down
        {
            a.Set(level);
            Thread.Sleep(5);
        }
        Thread.Sleep(2 * debounce); // held
        foreach (bool level in (bool[])[false, true, false, true, false]) // break: chatter, then up
        {
            a.Set(level);
            Thread.Sleep(5);
        }
        // The sentinel's edge is due after anything of A's, on the same thread: when it is seen, A is done.
        b.Set(true);
        seen.WaitFor(4);
        Assert.Equal(["down", "up", "press", "sentinel"], seen.Items);
    }

    [Fact]
    public async Task Wait_for_event_returns_the_edge_or_times_out()
    {
        using var sim = new SimChip(Names);
        using var a = LevelWriter.Open(sim.LevelPath(1), level: false);
        var driver = new BoardGpioDriver([Button(sim, "BTN_A")], "edge-test", TimeSpan.FromMilliseconds(20));
        using var controller = new GpioController(driver);
        controller.OpenPin(0, PinMode.Input);

        var none = controller.WaitForEvent(0, PinEventTypes.Rising, TimeSpan.FromMilliseconds(50));
        Assert.True(none.TimedOut);
        Assert.Equal(0, driver.WaitersOf(0));

        var waiting = Task.Run(() => controller.WaitForEvent(0, PinEventTypes.Falling, Edge.Timeout));
        Lab.Lab.WaitUntil(() => driver.WaitersOf(0) == 1, Edge.Timeout, "the waiter registered");
        a.Set(true); // rising: not what it waits for
        a.Set(false);
        Thread.Sleep(100); // both writes within one debounce: no edge at all
        a.Set(true);
        Thread.Sleep(100);
        a.Set(false);
        var result = await waiting.WaitAsync(Edge.Timeout);
        Assert.False(result.TimedOut);
        Assert.Equal(PinEventTypes.Falling, result.EventTypes);
        Lab.Lab.WaitUntil(() => driver.WaitersOf(0) == 0, Edge.Timeout, "the waiter gone");
    }

    [Fact]
    public void A_chip_without_edge_detection_is_sampled_said_so_once_and_still_gives_presses()
    {
        using var sim = new SimChip(Names);
        File.WriteAllText(Path.Combine(sim.Directory, SimulatedGpioChip.NoEdgesFile), "");
        using var a = LevelWriter.Open(sim.LevelPath(1), level: false);
        var notices = new List<GpioEdgeNotice>();
        var driver = new BoardGpioDriver([Button(sim, "BTN_A")], "edge-test", TimeSpan.FromMilliseconds(20), n => { lock (notices) notices.Add(n); });
        using var controller = new GpioController(driver);
        var seen = new Recorder();
        using var button = new GpioButton(0, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(2), isPullUp: false, hasExternalResistor: true,
            gpio: controller, shouldDispose: false, debounceTime: TimeSpan.Zero);
        button.ButtonDown += (_, _) => seen.Add("down");
        button.ButtonUp += (_, _) => seen.Add("up");

        Assert.Equal(GpioEdgeDetection.None, driver.EdgesOf(0));
        var notice = Assert.Single(notices);
        Assert.False(notice.Failed);
        Assert.Equal("btn_a", notice.Line);
        Assert.Contains("no edge detection", notice.Text);
        Assert.Contains("read every 20 ms", notice.Text);

        a.Set(true);
        seen.WaitFor(1);
        a.Set(false);
        seen.WaitFor(2);
        Assert.Equal(["down", "up"], seen.Items);
        Assert.Single(notices);
    }

    [Fact]
    public void A_pin_closed_while_watched_stops_alone_and_dispose_ends_the_event_thread()
    {
        using var sim = new SimChip(Names);
        using var a = LevelWriter.Open(sim.LevelPath(1), level: false);
        using var b = LevelWriter.Open(sim.LevelPath(2), level: false);
        var driver = new BoardGpioDriver([Button(sim, "BTN_A"), Button(sim, "BTN_B")], "edge-test", TimeSpan.Zero);
        var controller = new GpioController(driver);
        controller.OpenPin(0, PinMode.Input);
        controller.OpenPin(1, PinMode.Input);
        var seen = new Recorder();
        controller.RegisterCallbackForPinValueChangedEvent(0, PinEventTypes.Rising, (_, e) => seen.Add("a"));
        controller.RegisterCallbackForPinValueChangedEvent(1, PinEventTypes.Rising, (_, e) => seen.Add("b"));
        Assert.True(driver.EventThreadRunning);

        controller.ClosePin(0); // its line released, its fd closed under the event thread's poll
        a.Set(true);
        b.Set(true);
        seen.WaitFor(1);
        Assert.Equal(["b"], seen.Items);
        // The line is free again: another holder can take it.
        using (GpioChips.RequestInput(sim.Chip, "BTN_A", false, "other")) { }

        controller.Dispose();
        Lab.Lab.WaitUntil(() => !driver.EventThreadRunning, Edge.Timeout, "the event thread ended");
    }

    /// <summary>Thread-safe list of what the callbacks saw.</summary>
    private sealed class Recorder
    {
        private readonly List<string> _items = [];

        public void Add(string item)
        {
            lock (_items)
                _items.Add(item);
        }

        public string[] Items
        {
            get
            {
                lock (_items)
                    return [.. _items];
            }
        }

        public void WaitFor(int count) =>
            Lab.Lab.WaitUntil(() => Items.Length >= count, Edge.Timeout, $"{count} events (so far: {string.Join(", ", Items)})");
    }
}

/// <summary>
/// Writes a simulated line's level file the way the lab does, in place (pwrite of both bytes, no
/// lock: the line's holder has flock on it and .NET's file APIs would take one and fail).
/// </summary>
internal sealed class LevelWriter : IDisposable
{
    private readonly SafeFileHandle _file;

    private LevelWriter(SafeFileHandle file) => _file = file;

    public static LevelWriter Open(string path, bool level)
    {
        int fd = Interop.Files.Open(path, Interop.Fs.O_WRONLY | Interop.Files.O_CREAT | Interop.Sys.O_CLOEXEC, 0b110_100_100);
        if (fd < 0)
            throw new IOException($"open {path}: errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}");
        var writer = new LevelWriter(new SafeFileHandle(fd, ownsHandle: true));
        writer.Set(level);
        return writer;
    }

    /// <summary>The physical level: true writes "1\n".</summary>
    public void Set(bool level) => RandomAccess.Write(_file, level ? "1\n"u8 : "0\n"u8, 0);

    public void Dispose() => _file.Dispose();
}
