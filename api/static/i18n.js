// Vietnamese by default (the province's officials), English on a switch. Keys name a piece of text.
export const TEXT = {
  vi: {
    title: "Hạ tầng sẵn sàng IoT — tỉnh Bắc Ninh",
    measures: "Bảng này đo chỉ tiêu của Kế hoạch 333/KH-UBND (13/10/2023), mục II.2:",
    measuresHow: "— tỷ lệ tài sản thiết yếu có thiết bị đang hoạt động và gửi số liệu gần đây.",
    keyLabel: "Khoá API (chỉ đọc là đủ)", keySave: "Mở bảng điều khiển", keyBad: "Khoá không hợp lệ hoặc đã bị thu hồi.",
    welcome: "Bảng điều khiển cần một khoá API để đọc số liệu.",
    welcomeHow: "Chạy thử trên máy này: dùng khoá quản trị mẫu mà lệnh make run in ra (cũng có trong tệp .data/demo-admin.key). " +
      "Trên máy chủ: xin quản trị viên một khoá chỉ đọc (hatang keys create --role viewer). Khoá chỉ lưu trong trình duyệt này.",
    welcomeShows: "Sau khi nhập khoá: mức sẵn sàng IoT theo lĩnh vực so với chỉ tiêu 40%, bản đồ tài sản, số liệu theo địa bàn, " +
      "tình trạng thiết bị và số liệu trực tiếp.",
    apiDocs: "Tài liệu API",
    readiness: "Mức sẵn sàng theo lĩnh vực", map: "Bản đồ tài sản",
    mapNote: "Vị trí theo kinh độ/vĩ độ, không dùng máy chủ bản đồ bên ngoài.",
    areas: "Theo địa bàn", health: "Tình trạng thiết bị", chart: "Số liệu của một thiết bị",
    chooseSeries: "Thiết bị và chỉ số", searchSeries: "Tìm thiết bị hoặc chỉ số", feed: "Số liệu trực tiếp",
    footer: "hatang — nền tảng cảm biến mã nguồn mở.",
    connected: "Đã kết nối — số liệu trực tiếp", disconnected: "MẤT KẾT NỐI — số liệu không cập nhật",
    feedDown: "Máy chủ mất kết nối tới nguồn số liệu — không có số liệu mới", connecting: "Đang kết nối…",
    target: "Mục tiêu", deadline: "Hạn", ready: "sẵn sàng", of: "trên", essential: "thiết yếu",
    stillNeeded: "Còn cần", noAssets: "chưa có tài sản thiết yếu", statusCol: "Trạng thái", readyCol: "Sẵn sàng",
    sector: "Lĩnh vực", area: "Địa bàn", share: "Tỷ lệ", total: "Tổng", time: "Thời gian", device: "Thiết bị",
    metric: "Chỉ số", value: "Giá trị", dropped: "bỏ qua do quá tải", level: "Cấp",
    online: "Trực tuyến", silent: "Im lặng", suspended: "Tạm ngưng", provisioned: "Chưa kích hoạt",
    noData: "Chưa có số liệu.", asOf: "Số liệu ngày", passed: "đã qua",
    includeDemo: "Gồm dữ liệu mẫu", demo: "mẫu", demoBadge: "DỮ LIỆU MẪU",
    demoShare: "tài sản sẵn sàng là tài sản mẫu (mô phỏng)", demoOff: "Đã loại dữ liệu mẫu: chỉ tài sản thật.",
    loading: "Đang tải…", loadedAssets: "tài sản", clustered: "Hiển thị theo cụm: mỗi vòng tròn là một nhóm tài sản gần nhau",
    partial: "Chỉ hiển thị", ofTotal: "trên", noPosition: "không có toạ độ",
    clusterOf: "tài sản", live: "trực tiếp", history6h: "6 giờ qua (trung bình mỗi phút), rồi trực tiếp",
    status: { met: "đạt", on_track: "đúng tiến độ", behind: "chậm tiến độ", missed: "không đạt", no_assets: "không có tài sản", no_target: "không có mục tiêu" },
    reasons: { ready: "sẵn sàng", silent: "im lặng quá 24 giờ", never_reported: "chưa từng gửi số liệu", no_device: "chưa có thiết bị",
      device_not_active: "thiết bị chưa hoạt động", wrong_sector: "thiết bị sai lĩnh vực", other: "không thiết yếu" },
    levels: { province: "Tỉnh", district: "Huyện/thị xã/thành phố", commune: "Xã/phường", ward: "Phường", zone: "Khu" },
    sectors: { transport: "Giao thông", energy: "Năng lượng", electricity: "Điện", water: "Nước", urban: "Đô thị" },
    lang: "English",
  },
  en: {
    title: "IoT-ready infrastructure — Bắc Ninh province",
    measures: "This board measures the target of Plan 333/KH-UBND (13 Oct 2023), section II.2:",
    measuresHow: "— the share of essential assets with an active device that reported recently.",
    keyLabel: "API key (read-only is enough)", keySave: "Open the dashboard", keyBad: "The key is unknown or revoked.",
    welcome: "The dashboard needs an API key to read the figures.",
    welcomeHow: "Trying it on this machine: use the demo admin key make run printed (also in the file .data/demo-admin.key). " +
      "On a server: ask an administrator for a read-only key (hatang keys create --role viewer). The key stays in this browser.",
    welcomeShows: "With a key: IoT readiness per sector against the 40% target, the map of assets, figures by area, " +
      "device health and live readings.",
    apiDocs: "API documentation",
    readiness: "Readiness by sector", map: "Map of assets",
    mapNote: "Positions from latitude/longitude; no outside map server.",
    areas: "By area", health: "Device health", chart: "Data of one device",
    chooseSeries: "Device and metric", searchSeries: "Search a device or metric", feed: "Live readings",
    footer: "hatang — an open-source sensor platform.",
    connected: "Connected — live data", disconnected: "DISCONNECTED — data is not updating",
    feedDown: "The server lost its data feed — no new readings", connecting: "Connecting…",
    target: "Target", deadline: "Deadline", ready: "ready", of: "of", essential: "essential",
    stillNeeded: "Still needed", noAssets: "no essential assets yet", statusCol: "Status", readyCol: "Ready",
    sector: "Sector", area: "Area", share: "Share", total: "Total", time: "Time", device: "Device",
    metric: "Metric", value: "Value", dropped: "skipped under load", level: "Level",
    online: "Online", silent: "Silent", suspended: "Suspended", provisioned: "Not activated",
    noData: "No data yet.", asOf: "Figures for", passed: "passed",
    includeDemo: "Include demo data", demo: "demo", demoBadge: "DEMO DATA",
    demoShare: "ready assets are demo (simulated) assets", demoOff: "Demo data left out: real assets only.",
    loading: "Loading…", loadedAssets: "assets", clustered: "Shown in clusters: each circle is a group of nearby assets",
    partial: "Showing only", ofTotal: "of", noPosition: "without a position",
    clusterOf: "assets", live: "live", history6h: "last 6 hours (mean per minute), then live",
    status: { met: "met", on_track: "on track", behind: "behind", missed: "missed", no_assets: "no assets", no_target: "no target" },
    reasons: { ready: "ready", silent: "silent for over 24 h", never_reported: "never reported", no_device: "no device",
      device_not_active: "device not active", wrong_sector: "device of another sector", other: "not essential" },
    levels: { province: "Province", district: "District", commune: "Commune/ward", ward: "Ward", zone: "Zone" },
    sectors: { transport: "Transport", energy: "Energy", electricity: "Electricity", water: "Water", urban: "Urban" },
    lang: "Tiếng Việt",
  },
};

export function language() {
  return localStorage.getItem("hatang.lang") === "en" ? "en" : "vi";
}

export function t(key) {
  return TEXT[language()][key] ?? TEXT.vi[key] ?? key;
}

export function applyStatic() {
  const lang = language();
  document.documentElement.lang = lang;
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of document.querySelectorAll("[data-i18n-placeholder]")) node.placeholder = t(node.dataset.i18nPlaceholder);
  document.getElementById("lang").textContent = TEXT[lang].lang;
}
