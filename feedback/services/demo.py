"""Demo data: staff accounts for every role and realistic sample cases at every step of
their life, for trying the service out. Idempotent: a second run creates nothing new."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from ..domain.permissions import UNIT_ROLES
from ..domain.states import Action, Status, next_status
from ..extensions import db
from ..models import Area, BoxOpening, Case, CaseEvent, SuggestionBox, Unit, User
from .accounts.users import create_user
from .errors import ValidationError
from .handling.actions import draft_answer
from .handling.apology import owe_if_late
from .handling.deadlines import recompute
from .intake.submission import CaseInput, Reporter, submit_case

# username, role, unit code, full name
USERS: tuple[tuple[str, str, str | None, str], ...] = (
    ("vanphong", "coordinator", "VP", "Nguyễn Thị Thu Hà"),
    ("tongdai", "operator", "VP", "Lý Thị Mai"),
    ("homthu", "clerk", "UBND-00688", "Hoàng Văn Tuấn"),
    ("thanhtra", "inspector", "TTR", "Nông Văn Thắng"),
    ("quantri", "admin", None, "Đỗ Minh Quân"),
    ("canbo.quangtrung", "officer", "UBND-00688", "Trần Thị Lan"),
    ("lanhdao.quangtrung", "unit_head", "UBND-00688", "Ma Văn Hưng"),
    ("canbo.tranphu", "officer", "UBND-00691", "Lục Thị Hằng"),
    ("canbo.ngocha", "officer", "UBND-00692", "Phạm Văn Long"),
    ("canbo.nguyentrai", "officer", "UBND-00694", "Vũ Thị Ngọc Anh"),
    ("canbo.minhkhai", "officer", "UBND-00697", "Hoàng Thị Nhung"),
    ("canbo.ngocduong", "officer", "UBND-00700", "Bàn Văn Sơn"),
    ("canbo.phuongdo", "officer", "UBND-00946", "Triệu Thị Mây"),
    ("canbo.phuongthien", "officer", "UBND-00949", "Nguyễn Đức Thịnh"),
    ("canbo.moitruong", "officer", "MTDT", "Lê Văn Khánh"),
    ("canbo.dienluc", "officer", "DL", "Đặng Quốc Việt"),
    ("canbo.capnuoc", "officer", "CTN", "Ngô Thị Thanh Hương"),
    ("canbo.yte", "officer", "TTYT", "Phan Thị Thúy"),
    ("canbo.congan.minhkhai", "officer", "CA-00697", "Nguyễn Mạnh Cường"),
    ("canbo.tnmt", "officer", "TNMT", "Lương Văn Toàn"),
    ("lanhdao.tnmt", "unit_head", "TNMT", "Đinh Thị Phương"),
    ("canbo.vhtt", "officer", "VHTT", "Hà Thị Thanh Xuân"),
    ("canbo.noivu", "officer", "NV", "Vương Đình Hiếu"),
)

# number, channel, kind, category, area, reporter's name (None: anonymous), days ago,
# subject, body, script. A script is "action when [argument]" steps joined by " | ", where
# when is hours after receipt or "due+H" (hours after the response deadline) and the
# argument is the answer, the reason, "UNIT reason" for a transfer or the case merged into.
SampleCase = tuple[int, str, str, str | None, str | None, str | None, float, str, str, str]
# fmt: off
CASES: tuple[SampleCase, ...] = (
    (1, "web", "feedback", "6.3c", "00688", "Nguyễn Thị Hoa", 1.2,
     "Rác không được thu gom ở tổ 5, phường Quang Trung",
     "Bốn ngày nay xe rác không vào tổ 5, rác dồn ở đầu ngõ bốc mùi, chó mèo bới ra cả lối "
     "đi. Đề nghị Công ty Môi trường đô thị thu gom sớm.", "acknowledge 3 | start 6"),
    (2, "hotline", "feedback", "6.3b", "00694", "Trần Văn Bình", 12,
     "Đèn chiếu sáng trên đường Nguyễn Trãi bị hỏng",
     "Đoạn đường Nguyễn Trãi gần chợ có 5 cột đèn không sáng gần một tuần, buổi tối rất tối, "
     "học sinh đi học thêm về dễ gặp nguy hiểm.",
     "acknowledge 2 | start 20 | answer 70 UBND phường đã phối hợp đơn vị quản lý chiếu sáng "
     "thay 5 bóng đèn hỏng, đường đã sáng bình thường. | close 120"),
    (3, "hotline", "feedback", "6.3d", "00949", "Hoàng Thị Lý", 3,
     "Mất nước sinh hoạt ở thôn Tân Tiến, xã Phương Thiện",
     "Từ sáng thứ Hai thôn Tân Tiến mất nước, không có thông báo trước. Nhà có người già và "
     "trẻ nhỏ, phải xin nước hàng xóm dùng tạm.",
     "acknowledge 1 | start 4 | answer 30 Đường ống chính bị vỡ do thi công đường, công ty đã "
     "sửa xong và cấp nước trở lại. Xin lỗi bà con vì chưa kịp báo trước."),
    (4, "web", "feedback", "6.3d", "00949", None, 2.9, "Thôn Tân Tiến mất nước mấy ngày chưa có",
     "Nhà tôi ở thôn Tân Tiến, xã Phương Thiện, mấy ngày không có nước máy. Đề nghị công ty "
     "cấp nước kiểm tra đường ống.", "merge 5 DEMO-003"),
    (5, "hotline", "feedback", "6.4", "00697", "Lê Thị Thu", 6,
     "Quán karaoke hát đến khuya ở tổ 12, phường Minh Khai",
     "Quán karaoke ở tổ 12 hát đến 1–2 giờ sáng, mở loa rất to, khách say xỉn cãi nhau ngoài "
     "đường. Nhà có con nhỏ và người ốm không ngủ được.",
     "acknowledge 1 | start 15 | answer 50 Công an phường đã kiểm tra, lập biên bản nhắc nhở "
     "chủ quán, yêu cầu dừng hát trước 22 giờ. | close 130"),
    (6, "web", "feedback", "6.3b", "00691", "Phạm Văn Đức", 20,
     "Ổ gà lớn trên đường Trần Phú, gần cổng trường THCS",
     "Ổ gà sâu khoảng 20 cm, trời mưa đọng nước không nhìn thấy. Tuần trước đã có hai người "
     "đi xe máy bị ngã.",
     "acknowledge 5 | start 30 | answer due+30 Phường đã vá ổ gà và đặt biển cảnh báo. Việc "
     "trả lời chậm hạn, UBND phường xin lỗi ông. | close due+70"),
    (7, "box", "petition", "2.2", "00946", "Bàn Thị Mỷ", 15,
     "Danh sách hộ nghèo của thôn chưa rõ ràng",
     "Họp bình xét hộ nghèo không báo cho tất cả các hộ. Hộ mới xây nhà to vẫn có tên, hộ "
     "tôi khó khăn lại không có.",
     "acknowledge 20 | start 40 | ask_citizen 60 Đề nghị bà cung cấp giấy tờ về thu nhập, tài "
     "sản của gia đình để tổ bình xét rà soát lại."),
    (8, "web", "petition", "5.3", "00692", "Vũ Văn Hải", 25,
     "Hồ sơ cấp sổ đỏ nộp đã ba tháng chưa có kết quả",
     "Tôi nộp hồ sơ cấp giấy chứng nhận quyền sử dụng đất đã ba tháng, phiếu hẹn quá hạn lâu "
     "rồi, hỏi thì chỉ bảo đang chờ. Đề nghị cho biết vướng ở khâu nào.",
     "acknowledge 4 | start 24 | answer due+50 Hồ sơ đang chờ xác minh do chồng lấn ranh giới "
     "với thửa bên cạnh, Phòng sẽ đo đạc lại. | reopen due+100 Ranh giới đã được hai nhà ký "
     "xác nhận, đề nghị giải quyết dứt điểm."),
    (9, "box", "feedback", "4.3", "00688", None, 15,
     "Trường tiểu học thu thêm nhiều khoản ngoài quy định",
     "Đầu năm học lớp con tôi phải nộp quỹ lớp, tiền máy chiếu, tiền trang trí lớp, gần một "
     "triệu đồng mỗi cháu. Đề nghị kiểm tra.", "acknowledge 22 | start 48"),
    (10, "hotline", "feedback", "6.1", None, "Nông Thị Hạnh", 8,
     "Thái độ của nhân viên tại Trung tâm Y tế thành phố",
     "Nhân viên quầy tiếp đón nói trống không, quát người già khi hỏi đường. Đề nghị chấn "
     "chỉnh thái độ phục vụ người bệnh.",
     "acknowledge 2 | start 24 | answer 100 Trung tâm đã kiểm điểm nhân viên liên quan và nhắc "
     "nhở bộ phận tiếp đón. Trung tâm xin lỗi gia đình bà. | close 170"),
    (11, "web", "complaint", "2.4", "00700", "Giàng Seo Dính", 20,
     "Khiếu nại quyết định bồi thường khi thu hồi đất làm đường",
     "Quyết định bồi thường 350 m² đất của gia đình tôi áp giá đất trồng cây hằng năm, trong "
     "khi trên đất đã trồng chè nhiều năm. Đề nghị kiểm đếm lại.", "acknowledge 48 | start 96"),
    (12, "web", "denunciation", "4.1", "00691", "Lò Văn Chiến", 7,
     "Tố cáo cán bộ địa chính phường đòi tiền khi làm hồ sơ",
     "Khi tôi làm thủ tục tách thửa, một cán bộ địa chính phường nói muốn nhanh thì gửi năm "
     "triệu đồng, không thì phải chờ lâu. Tôi có ghi âm cuộc nói chuyện.",
     "acknowledge 24 | transfer 30 TTR Tố cáo hành vi của cán bộ phường, chuyển Thanh tra "
     "xác minh theo thẩm quyền."),
    (13, "api", "suggestion", "8.1", None, "Đỗ Thị Ngọc", 9, "Góp ý Cổng dịch vụ công thành phố",
     "Trang dịch vụ công khó dùng trên điện thoại, chữ nhỏ, hay báo lỗi khi tải tệp đính kèm. "
     "Đề nghị có hướng dẫn từng bước.",
     "acknowledge 6 | start 30 | answer 90 Cảm ơn chị đã góp ý. Giao diện cho điện thoại sẽ "
     "được nâng cấp và có hướng dẫn sử dụng. | close 200"),
    (14, "hotline", "feedback", "6.3a", "00697", "Ngô Văn Thành", 4,
     "Mất điện liên tục ở tổ 9, phường Minh Khai",
     "Một tuần nay tổ 9 mất điện nhiều lần mỗi ngày, không báo trước, tủ lạnh và máy bơm của "
     "gia đình đã hỏng.", "acknowledge 1 | start 3 | answer 28 Điện lực đã thay máy biến áp bị "
     "quá tải tại trạm tổ 9, điện đã ổn định."),
    (15, "api", "feedback", "6.3a", "00946", None, 0.3, "Mất điện toàn xã Phương Độ từ chiều",
     "Từ 15 giờ chiều nay cả xã mất điện, gọi tổng đài điện lực không được.", ""),
    (16, "web", "feedback", "6.3c", "00691", "Hà Thị Tuyết", 0.1,
     "Thùng rác công cộng đầu ngõ bị vỡ, rác tràn ra đường",
     "Thùng rác ở đầu ngõ 112 đường Trần Phú vỡ nắp, thủng đáy. Đề nghị thay thùng mới.", ""),
    (17, "web", "petition", "5.2", "00694", "Trần Thị Ngân", 2,
     "Hỏi thủ tục xin giấy phép xây dựng nhà ở",
     "Gia đình tôi muốn xây nhà hai tầng trên đất đã có sổ đỏ. Đề nghị hướng dẫn hồ sơ, nơi "
     "nộp và thời gian cấp phép.", ""),
    (18, "box", "suggestion", "1.1", "00688", "Hoàng Văn Nam", 15,
     "Đề nghị tuyên truyền pháp luật đất đai ở tổ dân phố",
     "Nhiều hộ chưa hiểu quy định mới về chuyển nhượng, tách thửa. Đề nghị tổ chức tuyên "
     "truyền buổi tối để người đi làm cũng dự được.",
     "acknowledge 10 | start 30 | answer 80 Phường sẽ tổ chức hội nghị phổ biến Luật Đất đai "
     "tại nhà văn hóa tổ dân phố vào tối thứ Sáu tuần sau. | close 150"),
    (19, "box", "feedback", "2.3", "00688", None, 15,
     "Chưa thấy công khai thu, chi ngân sách phường",
     "Bảng tin ở trụ sở phường lâu rồi không công khai thu, chi ngân sách và các khoản đóng "
     "góp của nhân dân.", "acknowledge 10 | start 40"),
    (20, "web", "petition", "3.3", None, "Lục Văn Thái", 11,
     "Nhờ giải quyết tranh chấp lối đi với hàng xóm",
     "Nhà hàng xóm xây tường rào lấn lối đi chung gia đình tôi dùng hơn 20 năm. Đề nghị buộc "
     "họ phá tường.", "reject 20 Đây là tranh chấp dân sự, cần hòa giải ở cơ sở, không thành "
     "thì khởi kiện tại Tòa án nhân dân thành phố."),
    (21, "hotline", "feedback", "6.4", "00692", "Phạm Thị Yến", 1.5,
     "Thanh niên tụ tập đua xe ban đêm ở phường Ngọc Hà",
     "Khoảng 23 giờ các tối cuối tuần có nhóm thanh niên nẹt pô, đua xe trên đường bờ kè sông "
     "Lô, rất nguy hiểm.", "acknowledge 3"),
    (22, "web", "suggestion", "8.3", None, "Đặng Minh Tuấn", 18,
     "Đề nghị báo kết quả xử lý phản ánh qua tin nhắn",
     "Gọi Tổng đài 1022 xong tôi phải gọi lại nhiều lần mới biết kết quả. Đề nghị nhắn tin "
     "khi có kết quả.", "acknowledge 5 | answer 60 Văn phòng ghi nhận góp ý, hệ thống mới sẽ "
     "gửi thông báo khi có kết quả. | close 150"),
    (23, "api", "feedback", "7.1", "00949", "Nguyễn Văn Khoa", 16,
     "Xưởng chế biến gỗ xả mùn cưa xuống suối",
     "Xưởng gỗ gần cầu treo đổ mùn cưa và nước thải xuống suối, nước đục, có mùi, bà con "
     "không dùng được để tưới rau.",
     "acknowledge 6 | start 30 | ask_citizen 50 Đề nghị ông cung cấp vị trí cụ thể và hình ảnh."
     " | citizen_reply 70 Người dân đã gửi vị trí và ba hình ảnh. | answer due+20 Xã đã lập "
     "biên bản, yêu cầu xưởng dừng xả thải và nạo vét suối. Xã xin lỗi ông vì trả lời chậm. | "
     "close due+60"),
    (24, "hotline", "feedback", "6.3c", "00694", "Bùi Thị Thoa", 27,
     "Điểm tập kết rác cạnh chợ bốc mùi hôi",
     "Điểm tập kết rác cạnh chợ để rác qua đêm, nước rỉ chảy ra đường, hôi cả dãy ki-ốt.",
     "acknowledge 1 | start 5 | answer 40 Công ty đã tăng chuyến thu gom buổi tối. | reopen 80 "
     "Được hai hôm, nay rác lại để qua đêm. | start 90 | answer 130 Công ty đã bố trí xe thu "
     "gom cố định lúc 21 giờ và rửa điểm tập kết hằng ngày."),
    (25, "web", "complaint", "5.1", "00697", "Hà Văn Lợi", 22,
     "Khiếu nại việc Bộ phận Một cửa phường trả hồ sơ không rõ lý do",
     "Hồ sơ đăng ký biến động đất đai của tôi ba lần bị trả lại mà không có phiếu hướng dẫn "
     "ghi rõ lý do.", "acknowledge 30 | start 60 | answer 300 Việc trả hồ sơ không kèm phiếu "
     "hướng dẫn là sai quy trình; phường đã kiểm điểm công chức và nhận lại hồ sơ. | close 400"),
    (26, "web", "petition", "1.4", "00700", "Vàng Thị Mai", 13,
     "Đóng góp làm đường bê tông thôn có bắt buộc không?",
     "Thôn yêu cầu mỗi hộ đóng 1,5 triệu đồng làm đường, hộ chưa đóng thì không được xác nhận "
     "giấy tờ. Khoản này có bắt buộc không?", "acknowledge 20 | start 40 | answer due+12 Khoản "
     "đóng góp là tự nguyện, không được gắn với việc xác nhận giấy tờ. Xã đã chấn chỉnh thôn."),
    (27, "hotline", "petition", "6.2", "00692", "Phan Văn Tú", 5,
     "Đề nghị bố trí người phân luồng trước cổng trường tiểu học",
     "Giờ tan học phụ huynh đỗ xe tràn ra lòng đường, xe tải đi qua rất nguy hiểm.",
     "acknowledge 2 | transfer 10 UBND-00694 Trường nằm trên địa bàn phường Nguyễn Trãi. | "
     "acknowledge 30 | start 40"),
    (28, "api", "feedback", "8.2", "00946", "Lý Seo Phìn", 19,
     "Sóng điện thoại, Internet yếu ở thôn vùng cao xã Phương Độ",
     "Sóng chập chờn, Internet gần như không dùng được, học sinh học trực tuyến rất khó.",
     "acknowledge 12 | start 36 | answer 110 Xã đã đề nghị các nhà mạng khảo sát, lắp thêm trạm "
     "phát sóng trong quý tới. | close 200"),
    (29, "web", "denunciation", "4.2", None, "Nông Văn Quyết", 9,
     "Tố cáo việc phải bồi dưỡng tiền để được khám trước",
     "Một người tự xưng là nhân viên khoa khám bệnh nói đưa 200 nghìn đồng thì được khám "
     "trước. Tôi đã đưa tiền vì con sốt cao.", "acknowledge 48 | start 72"),
    (30, "hotline", "feedback", "6.3b", "00700", None, 0.6,
     "Sạt lở taluy lấn đường liên thôn ở xã Ngọc Đường",
     "Mưa đêm qua làm sạt taluy, đất đá lấn gần hết mặt đường, xe máy đi qua rất nguy hiểm.",
     ""),
    (31, "web", "feedback", "3.1", "00694", "Đinh Thị Hồng", 3.5,
     "Hẹn nhiều lần vẫn chưa được xác nhận giấy tờ",
     "Tôi xin xác nhận sơ yếu lý lịch, được hẹn ba lần vẫn chưa ký, lần nào cũng bảo cán bộ "
     "đi vắng.", "acknowledge 20 | start 40"),
    (32, "box", "petition", "1.3", "00688", None, 5.5,
     "Đề nghị công khai kết quả bầu tổ trưởng tổ dân phố số 7",
     "Bầu tổ trưởng xong hơn một tháng nhưng chưa niêm yết biên bản kiểm phiếu.",
     "acknowledge 20"),
    (33, "api", "petition", "7.3", "00949", "Trần Văn Hùng", 7,
     "Nước suối đầu nguồn đục bất thường sau mưa",
     "Nước suối cấp cho bể nước của thôn đục và có váng, nghi do khai thác cát ở thượng nguồn. "
     "Đề nghị lấy mẫu kiểm tra.", "acknowledge 4 | start 20 | answer 60 Phòng đã lấy mẫu nước "
     "gửi phân tích và kiểm tra điểm khai thác cát; kết quả sẽ thông báo tới xã."),
    (34, "web", "suggestion", "2.1", None, None, 1,
     "Đề nghị đăng tải văn bản về chính sách hỗ trợ học nghề",
     "Tôi không tìm thấy văn bản về hỗ trợ học nghề cho lao động nông thôn trên cổng thông "
     "tin của thành phố.", "acknowledge 4"),
    (35, "hotline", "complaint", "4.4", None, "Hoàng Thị Diệp", 17,
     "Khiếu nại kết quả xét tuyển viên chức giáo dục",
     "Điểm phỏng vấn của tôi thấp bất thường so với người trúng tuyển dù hồ sơ tương đương. "
     "Đề nghị phúc khảo.", "acknowledge 40 | transfer 50 NV Phòng Nội vụ tham mưu xét tuyển "
     "viên chức. | acknowledge 70 | start 90 | ask_citizen 120 Đề nghị bà bổ sung thông báo kết "
     "quả xét tuyển."),
    (36, "web", "feedback", "6.3c", "00697", "Lương Thị Kim", 29,
     "Xe chở rác làm rơi vãi nước rỉ dọc đường",
     "Xe chở rác buổi sáng làm rơi vãi rác và nước rỉ, mùi hôi, đường trơn. Đề nghị che chắn "
     "thùng xe.", "acknowledge 2 | start 10 | answer due+60 Công ty đã thay gioăng kín thùng "
     "xe và thu gom trước 6 giờ sáng. Công ty xin lỗi bà vì trả lời chậm. | close due+110"),
)
# fmt: on

CITIZEN = "Người dân"
_ENTRY_DELAY = {"hotline": timedelta(minutes=10), "box": timedelta(hours=2)}
_CITIZEN_ACTIONS = {Action.CITIZEN_REPLY, Action.REOPEN}
_DESK_ACTIONS = {Action.TRANSFER, Action.MERGE, Action.REJECT, Action.CLOSE}
_NOTES = {
    Action.ACKNOWLEDGE: "Đã xác nhận tiếp nhận; hồ sơ đang được xem xét, giải quyết.",
    Action.START: "Đã phân công cán bộ trực tiếp xử lý.",
    Action.ANSWER: "Đã trả lời người dân.",
    Action.CLOSE: "Người dân đồng ý với kết quả giải quyết; đóng hồ sơ.",
}


_RECOMPUTE_REASONS = {Action.ACKNOWLEDGE: "thụ lý", Action.REOPEN: "mở lại hồ sơ"}


def _staff(password: str) -> tuple[dict[str, User], int]:
    users: dict[str, User] = {}
    created = 0
    for username, role, unit_code, full_name in USERS:
        user = db.session.scalar(select(User).where(func.lower(User.username) == username))
        if user is None:
            user = create_user(
                username,
                role,
                password,
                unit_code=unit_code,
                full_name=full_name,
                # Fictional addresses (.example never resolves): the outbox shows who is told.
                email=f"{username}@hagiang.example",
            )
            created += 1
        users[username] = user
    return users, created


def _worker(unit: Unit, users: dict[str, User]) -> User:
    """Who works a case of ``unit``: its officer, else its head, else anyone there."""
    mine = [u for u in users.values() if u.unit_id == unit.id]
    for role in UNIT_ROLES:  # the officer first, then the head
        for user in mine:
            if user.role == role:
                return user
    return mine[0] if mine else users["vanphong"]


def _apply(
    case: Case,
    action: Action,
    at: datetime,
    actor: User | None,
    note: str,
    data: dict[str, object] | None = None,
) -> None:
    """One step of the lifecycle: status, timestamps and an event (to be replaced by the
    handling service)."""
    before = Status(case.status)
    after = next_status(before, action)
    if after in (Status.ACKNOWLEDGED, Status.REJECTED) and case.acknowledged_at is None:
        case.acknowledged_at = at
    if after in (Status.ANSWERED, Status.REJECTED):
        case.answered_at, case.answer_body = at, note
        db.session.flush()
        owe_if_late(case, at)  # as the real answer does: late answers owe an apology
    if after in (Status.CLOSED, Status.REJECTED, Status.MERGED):
        case.closed_at = at
    if after is Status.REOPENED:
        case.closed_at = case.answered_at = None
    case.status, case.updated_at = after.value, at
    db.session.add(
        CaseEvent(
            case=case,
            at=at,
            actor_id=actor.id if actor else None,
            actor_label=actor.display_name if actor else CITIZEN,
            action=action.value,
            from_status=before.value,
            to_status=after.value,
            public=action is not Action.START,
            note=note,
            data=data or {},
        )
    )


def _play(
    case: Case, script: str, users: dict[str, User], by_ref: dict[str, Case], now: datetime
) -> None:
    last = case.created_at
    for step in filter(None, (s.strip() for s in script.split("|"))):
        name, when, *rest = step.split(" ", 2)
        action, arg = Action(name), rest[0] if rest else ""
        if when.startswith("due"):
            target = case.response_due_at + timedelta(hours=float(when[3:] or 0))
        else:
            target = case.received_at + timedelta(hours=float(when))
        at = last = min(max(target, last), now)
        worker = _worker(case.handling_unit, users)
        desk = users["vanphong"] if action in _DESK_ACTIONS else worker
        actor = None if action in _CITIZEN_ACTIONS else desk
        data: dict[str, object] = {}
        note = arg or _NOTES.get(action, "")
        if action is Action.START:
            case.assigned_to = worker
            data["assigned_to"] = worker.username
        elif action is Action.ANSWER:
            data["late"] = at > case.response_due_at
        elif action is Action.TRANSFER:
            code, _, reason = arg.partition(" ")
            unit = db.session.scalar(select(Unit).where(Unit.code == code))
            if unit is None:
                raise ValidationError(f"Dữ liệu mẫu chuyển tới đơn vị không tồn tại: {code}.")
            data = {"from_unit": case.handling_unit.code, "to_unit": unit.code}
            note = f"Chuyển {unit.name}: {reason}"
            case.handling_unit, case.needs_triage, case.assigned_to = unit, False, None
        elif action is Action.MERGE:
            target_case = by_ref[arg]
            case.merged_into_id = target_case.id
            data["merged_into"] = target_case.code
            note = f"Trùng nội dung với hồ sơ {target_case.code}; gộp để xử lý chung."
        _apply(case, action, at, actor, note, data)
        db.session.flush()
        # As the handling services do after each move: the stored due times follow the
        # timeline (acceptance re-counts a complaint's limit, reopening starts a new one).
        recompute(case, at, _RECOMPUTE_REASONS.get(action, action.value))
    db.session.flush()


BOXES = (
    # (code, location, area): the clerk homthu's ward (UBND-00688 opens them)
    ("HT-00688-01", "Trụ sở UBND phường Quang Trung", "00688"),
    ("HT-00688-02", "Nhà văn hóa tổ 5, phường Quang Trung", "00688"),
)
OPENINGS = (
    # (box, days ago, letters found, demo cases transcribed from it, closed)
    ("HT-00688-01", 15, 3, ("DEMO-009", "DEMO-018", "DEMO-019"), True),
    # In progress: three letters found, one transcribed so far (issue 16).
    ("HT-00688-02", 5.5, 3, ("DEMO-032",), False),
)


def _boxes(users: dict[str, User], by_ref: dict[str, Case], now: datetime) -> int:
    """The clerk's boxes and their openings (one closed, one still being transcribed),
    so the clerk's page has work on it; the demo's box letters belong to an opening."""
    created = 0
    clerk = users["homthu"]
    for code, location, area_code in BOXES:
        if db.session.scalar(select(SuggestionBox.id).where(SuggestionBox.code == code)):
            continue
        area = db.session.scalar(select(Area).where(Area.code == area_code))
        if area is None or clerk.unit is None:
            continue
        db.session.add(
            SuggestionBox(
                code=code,
                location=location,
                area=area,
                opener_unit=clerk.unit,
                active=True,
                created_at=now - timedelta(days=60),
            )
        )
        created += 1
    db.session.flush()
    for code, days, letters, refs, closed in OPENINGS:
        box = db.session.scalar(select(SuggestionBox).where(SuggestionBox.code == code))
        if box is None or db.session.scalar(
            select(BoxOpening.id).where(BoxOpening.box_id == box.id)
        ):
            continue
        opened = now - timedelta(days=days)
        opening = BoxOpening(
            box=box,
            opened_at=opened,
            opened_by_id=clerk.id,
            witnesses="Nguyễn Văn Hùng (tổ trưởng tổ 5)\nLò Thị Mai (MTTQ phường)",
            letter_count=letters,
            note="Dữ liệu mẫu: biên bản giấy lưu tại UBND phường.",
            status="closed" if closed else "open",
            closed_at=opened + timedelta(hours=3) if closed else None,
            created_at=opened,
        )
        db.session.add(opening)
        db.session.flush()
        for ref in refs:
            case = by_ref.get(ref)
            if case is not None and case.channel == "box":
                case.box_opening_id = opening.id
    db.session.flush()
    return created


DRAFT = (
    "UBND phường đã kiểm tra hiện trường và giao tổ dân phố khắc phục trong tuần này; "
    "kết quả sẽ được thông báo cho ông/bà."
)


def _draft_awaiting_approval(users: dict[str, User], now: datetime) -> None:
    """One draft of Quang Trung ward waiting for its head (issue 16: the head's queue)."""
    officer = users["canbo.quangtrung"]
    if officer.unit_id is None or db.session.scalar(
        select(Case.id).where(
            Case.handling_unit_id == officer.unit_id, Case.answer_draft.is_not(None)
        )
    ):
        return
    case = db.session.scalar(
        select(Case)
        .where(Case.handling_unit_id == officer.unit_id, Case.status == "in_progress")
        .order_by(Case.id)
        .limit(1)
    )
    if case is not None:
        draft_answer(case, officer, now, DRAFT)


def load_demo(*, password: str, now: datetime) -> dict[str, object]:
    """Create the demo accounts and sample cases that do not exist yet; report counts."""
    if not db.session.scalar(select(func.count()).select_from(Unit)):
        raise ValidationError(
            "Chưa có dữ liệu tham chiếu (đơn vị, địa bàn, lĩnh vực). "
            "Hãy chạy lệnh `flask --app feedback seed` trước."
        )
    users, users_created = _staff(password)
    by_ref: dict[str, Case] = {}
    cases_created = 0
    for n, channel, kind, cat, area, name, days, subject, body, script in CASES:
        ref = f"DEMO-{n:03d}"
        received = now - timedelta(days=days)
        entered = min(received + _ENTRY_DELAY.get(channel, timedelta()), now)
        reporter = Reporter(name=name, phone=f"090000{n:04d}") if name else Reporter(anonymous=True)
        actor = {"hotline": users["tongdai"], "box": users["homthu"]}.get(channel)
        data = CaseInput(kind, subject, body, cat, area, reporter=reporter, channel=channel)
        data.received_at, data.external_ref = received, ref
        done = submit_case(data, actor=actor, now=entered)
        by_ref[ref] = done.case
        if done.created:
            cases_created += 1
            _play(done.case, script, users, by_ref, now)
    boxes_created = _boxes(users, by_ref, now)
    _draft_awaiting_approval(users, now)
    return {
        "boxes_created": boxes_created,
        "users_created": users_created,
        "users_existing": len(USERS) - users_created,
        "cases_created": cases_created,
        "cases_existing": len(CASES) - cases_created,
        "users": [
            {"username": u.username, "role": u.role, "unit": u.unit.code if u.unit else None}
            for u in users.values()
        ],
    }
