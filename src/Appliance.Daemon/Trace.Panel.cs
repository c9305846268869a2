using Microsoft.Extensions.Logging;

namespace Appliance.Daemon;

/// <summary>Log events of the front panel (<see cref="PanelService"/>): ids 1900-1919, and 2100-2199 for its buttons' edge events.</summary>
internal static partial class Trace
{
    [LoggerMessage(1900, LogLevel.Information, "panel: running ({Leds} LEDs, {Buttons} buttons, {Lcd})")]
    public static partial void PanelStarted(ILogger log, int leds, int buttons, string lcd);

    [LoggerMessage(1901, LogLevel.Error, "panel: the LEDs and buttons failed: {Reason}; the node runs on without its panel, trying again in {RetryS}s")]
    public static partial void PanelFailed(ILogger log, string reason, double retryS);

    [LoggerMessage(1902, LogLevel.Error, "panel: the LCD failed: {Reason}; LEDs and buttons carry on, trying the LCD again in {RetryS}s")]
    public static partial void PanelLcdFailed(ILogger log, string reason, double retryS);

    [LoggerMessage(1903, LogLevel.Information, "panel: the LCD works again")]
    public static partial void PanelLcdRecovered(ILogger log);

    [LoggerMessage(1904, LogLevel.Warning, "panel: button {Button} is stuck (down since {HeldS:0.0}s or at start); it is ignored until released")]
    public static partial void PanelButtonStuck(ILogger log, string button, double heldS);

    [LoggerMessage(1905, LogLevel.Information, "panel: button {Button} released, obeyed again")]
    public static partial void PanelButtonUnstuck(ILogger log, string button);

    [LoggerMessage(1906, LogLevel.Warning, "panel: SELECT held twice on the role screen: planned switchover (standby) requested from the front panel")]
    public static partial void PanelStandby(ILogger log);

    [LoggerMessage(1907, LogLevel.Warning, "panel: the standby request failed: {Reason}")]
    public static partial void PanelStandbyFailed(ILogger log, string reason);

    [LoggerMessage(1908, LogLevel.Information, "panel: alarm acknowledged at the panel: {Alarm}")]
    public static partial void PanelAlarmAcknowledged(ILogger log, string alarm);

    [LoggerMessage(1909, LogLevel.Warning, "panel: cannot read the node's status: {Reason}")]
    public static partial void PanelStatusFailed(ILogger log, string reason);

    [LoggerMessage(2100, LogLevel.Warning, "panel: button line {Line} has no edge detection, sampled instead: {Reason}")]
    public static partial void PanelButtonSampled(ILogger log, string line, string reason);

    [LoggerMessage(2101, LogLevel.Information, "panel: buttons read by {Buttons}")]
    public static partial void PanelButtonsRead(ILogger log, string buttons);
}
