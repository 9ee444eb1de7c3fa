// Vietnamese by default (the province's officials), English on a switch. Keys name a piece of text.
export const TEXT = {
  vi: {
    title: "Hạ tầng sẵn sàng IoT — tỉnh Bắc Ninh",
    measures: "Bảng này đo chỉ tiêu của Kế hoạch 333/KH-UBND (13/10/2023), mục II.2:",
    measuresHow: "— tỷ lệ tài sản thiết yếu có thiết bị đang hoạt động và gửi số liệu gần đây.",
    keyLabel: "Khoá API (chỉ đọc là đủ)", keySave: "Mở bảng điều khiển", keyBad: "Khoá không hợp lệ hoặc đã bị thu hồi.",
    readiness: "Mức sẵn sàng theo lĩnh vực", map: "Bản đồ tài sản",
    mapNote: "Vị trí theo kinh độ/vĩ độ, không dùng máy chủ bản đồ bên ngoài. Xanh: sẵn sàng; cam: im lặng; đỏ: chưa có thiết bị hoạt động.",
    areas: "Theo địa bàn", health: "Tình trạng thiết bị", chart: "Số liệu gần đây của một thiết bị",
    chooseSeries: "Thiết bị và chỉ số", feed: "Số liệu trực tiếp",
    footer: "hatang — nền tảng cảm biến mã nguồn mở.",
    connected: "Đã kết nối — số liệu trực tiếp", disconnected: "MẤT KẾT NỐI — số liệu không cập nhật",
    feedDown: "Máy chủ mất kết nối tới nguồn số liệu — không có số liệu mới", connecting: "Đang kết nối…",
    target: "Mục tiêu", deadline: "hạn", ready: "sẵn sàng", of: "trên", essential: "thiết yếu",
    stillNeeded: "còn cần", noAssets: "chưa có tài sản thiết yếu",
    sector: "Lĩnh vực", area: "Địa bàn", share: "Tỷ lệ", total: "Tổng", time: "Thời gian", device: "Thiết bị",
    metric: "Chỉ số", value: "Giá trị", dropped: "bỏ qua do quá tải",
    online: "Trực tuyến", silent: "Im lặng", suspended: "Tạm ngưng", provisioned: "Chưa kích hoạt",
    noData: "Chưa có số liệu.", asOf: "Số liệu ngày",
    status: { met: "đạt", on_track: "đúng tiến độ", behind: "chậm", missed: "không đạt", no_assets: "—", no_target: "không có mục tiêu" },
    lang: "English",
  },
  en: {
    title: "IoT-ready infrastructure — Bắc Ninh province",
    measures: "This board measures the target of Plan 333/KH-UBND (13 Oct 2023), section II.2:",
    measuresHow: "— the share of essential assets with an active device that reported recently.",
    keyLabel: "API key (read-only is enough)", keySave: "Open the dashboard", keyBad: "The key is unknown or revoked.",
    readiness: "Readiness by sector", map: "Map of assets",
    mapNote: "Positions from latitude/longitude; no outside map server. Green: ready; orange: silent; red: no active device.",
    areas: "By area", health: "Device health", chart: "Recent data of one device",
    chooseSeries: "Device and metric", feed: "Live readings",
    footer: "hatang — an open-source sensor platform.",
    connected: "Connected — live data", disconnected: "DISCONNECTED — data is not updating",
    feedDown: "The server lost its data feed — no new readings", connecting: "Connecting…",
    target: "Target", deadline: "deadline", ready: "ready", of: "of", essential: "essential",
    stillNeeded: "still needed", noAssets: "no essential assets yet",
    sector: "Sector", area: "Area", share: "Share", total: "Total", time: "Time", device: "Device",
    metric: "Metric", value: "Value", dropped: "skipped under load",
    online: "Online", silent: "Silent", suspended: "Suspended", provisioned: "Not activated",
    noData: "No data yet.", asOf: "Figures for",
    status: { met: "met", on_track: "on track", behind: "behind", missed: "missed", no_assets: "—", no_target: "no target" },
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
  document.getElementById("lang").textContent = TEXT[lang].lang;
}
