/*
 * Prints the ABI facts that src/Appliance.Linux/Interop/Interop.GpioUapi.cs (Interop.Gpio) and
 * Interop.Flock.cs and Interop.Stat.cs (Interop.Files) hard-code, as "NAME VALUE" lines (decimal, unsigned), taken
 * from the installed <linux/gpio.h> (linux-libc-dev) and libc headers. Compiled and run by
 * Edge/GpioAbiTests.cs, which compares every constant of those two classes and the size and
 * every field offset of the GPIO structs with this output. Keep the names identical to the C#.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stddef.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <linux/gpio.h>

#define C(x) printf("%s %llu\n", #x, (unsigned long long)(x))
#define SIZE(t) printf("sizeof.%s %zu\n", #t, sizeof(struct t))
#define OFF(t, f) printf("offsetof.%s.%s %zu\n", #t, #f, offsetof(struct t, f))

int main(void)
{
    /* structs <linux/gpio.h> */
    SIZE(gpiochip_info);
    OFF(gpiochip_info, name); OFF(gpiochip_info, label); OFF(gpiochip_info, lines);
    SIZE(gpio_v2_line_attribute);
    OFF(gpio_v2_line_attribute, id); OFF(gpio_v2_line_attribute, padding);
    OFF(gpio_v2_line_attribute, flags); OFF(gpio_v2_line_attribute, values);
    OFF(gpio_v2_line_attribute, debounce_period_us);
    SIZE(gpio_v2_line_config_attribute);
    OFF(gpio_v2_line_config_attribute, attr); OFF(gpio_v2_line_config_attribute, mask);
    SIZE(gpio_v2_line_config);
    OFF(gpio_v2_line_config, flags); OFF(gpio_v2_line_config, num_attrs);
    OFF(gpio_v2_line_config, padding); OFF(gpio_v2_line_config, attrs);
    SIZE(gpio_v2_line_request);
    OFF(gpio_v2_line_request, offsets); OFF(gpio_v2_line_request, consumer);
    OFF(gpio_v2_line_request, config); OFF(gpio_v2_line_request, num_lines);
    OFF(gpio_v2_line_request, event_buffer_size); OFF(gpio_v2_line_request, padding);
    OFF(gpio_v2_line_request, fd);
    SIZE(gpio_v2_line_values);
    OFF(gpio_v2_line_values, bits); OFF(gpio_v2_line_values, mask);
    SIZE(gpio_v2_line_info);
    OFF(gpio_v2_line_info, name); OFF(gpio_v2_line_info, consumer); OFF(gpio_v2_line_info, offset);
    OFF(gpio_v2_line_info, num_attrs); OFF(gpio_v2_line_info, flags); OFF(gpio_v2_line_info, attrs);
    OFF(gpio_v2_line_info, padding);
    SIZE(gpio_v2_line_event);
    OFF(gpio_v2_line_event, timestamp_ns); OFF(gpio_v2_line_event, id); OFF(gpio_v2_line_event, offset);
    OFF(gpio_v2_line_event, seqno); OFF(gpio_v2_line_event, line_seqno); OFF(gpio_v2_line_event, padding);

    /* limits <linux/gpio.h> */
    C(GPIO_MAX_NAME_SIZE); C(GPIO_V2_LINES_MAX); C(GPIO_V2_LINE_NUM_ATTRS_MAX);
    /* ioctls <linux/gpio.h> */
    C(GPIO_GET_CHIPINFO_IOCTL); C(GPIO_V2_GET_LINEINFO_IOCTL); C(GPIO_V2_GET_LINE_IOCTL);
    C(GPIO_V2_LINE_SET_CONFIG_IOCTL); C(GPIO_V2_LINE_GET_VALUES_IOCTL); C(GPIO_V2_LINE_SET_VALUES_IOCTL);
    /* enum gpio_v2_line_flag <linux/gpio.h> */
    C(GPIO_V2_LINE_FLAG_USED); C(GPIO_V2_LINE_FLAG_ACTIVE_LOW); C(GPIO_V2_LINE_FLAG_INPUT);
    C(GPIO_V2_LINE_FLAG_OUTPUT); C(GPIO_V2_LINE_FLAG_EDGE_RISING); C(GPIO_V2_LINE_FLAG_EDGE_FALLING);
    C(GPIO_V2_LINE_FLAG_OPEN_DRAIN); C(GPIO_V2_LINE_FLAG_OPEN_SOURCE); C(GPIO_V2_LINE_FLAG_BIAS_PULL_UP);
    C(GPIO_V2_LINE_FLAG_BIAS_PULL_DOWN); C(GPIO_V2_LINE_FLAG_BIAS_DISABLED);
    C(GPIO_V2_LINE_FLAG_EVENT_CLOCK_REALTIME); C(GPIO_V2_LINE_FLAG_EVENT_CLOCK_HTE);
    /* enum gpio_v2_line_attr_id <linux/gpio.h> */
    C(GPIO_V2_LINE_ATTR_ID_FLAGS); C(GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES); C(GPIO_V2_LINE_ATTR_ID_DEBOUNCE);
    /* enum gpio_v2_line_event_id <linux/gpio.h> */
    C(GPIO_V2_LINE_EVENT_RISING_EDGE); C(GPIO_V2_LINE_EVENT_FALLING_EDGE);

    /* Interop.Files: open(2) <asm-generic/fcntl.h>, flock(2) <asm-generic/fcntl.h> via <sys/file.h> */
    C(O_CREAT); C(O_RDONLY); C(O_DIRECTORY); C(LOCK_SH); C(LOCK_EX); C(LOCK_NB); C(LOCK_UN);
    return 0;
}
