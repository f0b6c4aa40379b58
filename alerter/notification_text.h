// The words a notification is known by wherever it shows: the mail Subject, a webhook's summary,
// the list of held-back messages in a digest, `hostwatch test-alerts`. One copy, so a digest
// names a held-back message exactly as its mail would have.
#pragma once

#include <cstddef>
#include <string>

#include "alerter/notification.h"

namespace hw::alerter {

// "[FIRING] cpu_high on web-01: cpu.busy{cpu=total} = 95.5", "[FIRING:3] cpu_high on 3 hosts",
// "[RESOLVED] ...", "[INCIDENT] host_silent: 500 hosts", "[DIGEST] 7 notifications held back for
// ops". Plain text, not yet sanitised or encoded for a mail header (delivery does that).
std::string Subject(const Notification& n);

// "metric{k=v,...}" (tags sorted by key), or the series key when the metric is unknown.
std::string SeriesLabel(const AlertView& a);

// Distinct endpoints among the notification's alerts.
size_t CountHosts(const Notification& n);

// Shortest text that reads back as v ("42.5", "1e+20"); "NaN", "+Inf", "-Inf".
std::string FormatValue(double v);

}  // namespace hw::alerter
